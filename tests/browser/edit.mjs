// Editing context.py on the page and saving it (PUT /file_content with
// If-Match): typed in the editor, saved with Ctrl+S, the file on disk then
// holds exactly the editor's text, and the page shows it saved, with the
// new checksum, without a reload; a second save with the Save button goes
// from the first one's checksum. Another file is not opened over unsaved
// text. With "warnings" as argument (pyflakes is
// installed) a save that the check warns about goes through, the warning
// marked at its line.
//
// Arguments: USER PASSWORD (a Basic login that may save) [warnings].
import fs from "node:fs";
import {
	damnitPath, edited, fileCrc, note, openFile, run, shown, startEditing, typeAtEnd, waitEdit,
	waitFor, waitState,
} from "./lib.mjs";

const [user, password, warnings] = process.argv.slice(2);

run("edit", async ({ page }) => {
	await openFile(page, "context.py");
	await waitState(page, "ok", 10000, "events");
	await page.evaluate(() => { window.notReloaded = true; });
	const before = fs.readFileSync(damnitPath("context.py"), "utf8");
	const { value: e0 } = await startEditing(page);
	if (e0.text !== before)
		throw new Error("the editor does not hold the file's text");
	if (!e0.base.includes(fileCrc("context.py")))
		throw new Error(`the bar says "${e0.base}", not the file's checksum ${fileCrc("context.py")}`);
	if (e0.saveEnabled)
		throw new Error("Save is offered before anything changed");

	// Line 12, in the first screen.
	const marker = `EDITED_ON_PAGE = ${Date.now()}`;
	await typeAtEnd(page, 11, `\n${marker}`);
	const { value: dirty } = await waitEdit(page, "dirty", 2000);
	if (!dirty.saveEnabled)
		throw new Error("Save is not offered with unsaved changes");
	if (!dirty.text.split("\n").includes(marker))
		throw new Error("the typed line is not in the editor");
	// Another file is not opened over unsaved text.
	await page.fill("#file", "damnit.log");
	await page.click("#pick button[type=submit]");
	const { value: stay } = await waitFor("the page refusing to leave", 2000, async () => {
		const e = await edited(page);
		return e.msgKind === "confirm" ? e : null;
	});
	if (!stay.editing || stay.text !== dirty.text || !/not saved/.test(stay.msg) ||
	    !/file=context\.py/.test(await page.evaluate(() => location.hash)))
		throw new Error(`opening another file over unsaved text: "${stay.msg}"`);
	await page.click("#editor .cm-content");
	const start = Date.now();
	await page.keyboard.press("Control+s");
	const { value: saved } = await waitEdit(page, "saved", 10000);
	note(`saved with Ctrl+S in ${Date.now() - start} ms: "${saved.msg}"`);
	const disk = fs.readFileSync(damnitPath("context.py"), "utf8");
	if (disk !== saved.text)
		throw new Error("the file on disk is not the editor's text");
	if (disk.split("\n")[11] !== marker)
		throw new Error(`line 12 on disk is "${disk.split("\n")[11]}"`);
	const crc = fileCrc("context.py");
	if (!saved.base.includes(crc) || !saved.msg.includes(crc) || saved.msgKind !== "saved")
		throw new Error(`the page does not say saved with ${crc}: "${saved.base}", "${saved.msg}"`);
	await waitFor("the new checksum in the metadata", 2000, async () =>
	    (await shown(page)).checksum === crc);
	if (saved.disk)
		throw new Error(`its own save is announced as a change on disk: "${saved.disk}"`);

	// Then the Save button; the check may warn, the save stands.
	const second = warnings ? "import os  # unused: the check warns" : `# ${marker}, again`;
	await typeAtEnd(page, 12, `\n${second}`);
	await waitEdit(page, "dirty", 2000);
	await page.click("#e-save");
	const { value: again } = await waitEdit(page, "saved", 10000);
	const disk2 = fs.readFileSync(damnitPath("context.py"), "utf8");
	if (disk2 !== again.text || disk2.split("\n")[12] !== second)
		throw new Error("the second save is not on disk");
	if (!again.base.includes(fileCrc("context.py")))
		throw new Error(`after the second save the bar says "${again.base}"`);
	if (warnings) {
		const w = again.diagnostics.filter((d) => d.severity === "warning");
		if (!w.some((d) => d.line === 13 && /os/.test(d.message)))
			throw new Error(`no warning marked at line 13: ${JSON.stringify(again.diagnostics)}`);
		if (!again.problems.some((p) => p.line === 13 && p.severity === "warning"))
			throw new Error(`the list does not name line 13: ${JSON.stringify(again.problems)}`);
		if (again.msgKind !== "warnings" || !/1 warning/.test(again.msg))
			throw new Error(`the message does not tell of the warning: "${again.msg}"`);
		note(`the check's warning, marked: line 13, "${w[0].message}"`);
	}

	// Closing the editor shows the live view, with the saved lines.
	await page.click("#e-close");
	const { value: s } = await waitFor("the live view again", 5000, async () => {
		const v = await shown(page);
		const e = await edited(page);
		return !e.editing && v.rows.some((r) => r.no === 12 && r.text === marker) ? v : null;
	});
	if (s.checksum !== fileCrc("context.py"))
		throw new Error(`the live view shows ${s.checksum}`);
	if (!(await page.evaluate(() => window.notReloaded === true)))
		throw new Error("the page was reloaded");
}, { httpCredentials: { username: user, password } });
