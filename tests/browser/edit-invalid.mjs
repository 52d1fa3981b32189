// A save the check refuses (422): a syntax error typed at line 12 is
// marked at line 12 in the editor and named in the list under it, the
// message says the file is unchanged, and it is: the file on disk keeps
// its bytes, the editor keeps every typed character and stays unsaved.
// Correcting the line then saves. With "pyflakes" as argument, an
// undefined name is refused the same way, at its line.
//
// Arguments: USER PASSWORD (a Basic login that may save) [pyflakes].
import fs from "node:fs";
import {
	damnitPath, edited, fileCrc, note, openFile, run, startEditing, typeAtEnd, waitEdit, waitFor,
	waitState,
} from "./lib.mjs";

const [user, password, pyflakes] = process.argv.slice(2);

// Saves with Ctrl+S and waits for the refusal; checks that it is marked at
// line and that nothing changed on disk.
async function refused(page, line, what) {
	const crc = fileCrc("context.py");
	const bytes = fs.readFileSync(damnitPath("context.py"));
	const { value: typed } = await waitEdit(page, "dirty", 2000);
	await page.keyboard.press("Control+s");
	const { value: e } = await waitFor(`the refusal of ${what}`, 10000, async () => {
		const v = await edited(page);
		return v.msgKind === "invalid" ? v : null;
	});
	note(`${what}: "${e.msg}"; marked: ${JSON.stringify(e.diagnostics)}`);
	const errors = e.diagnostics.filter((d) => d.severity === "error");
	if (!errors.some((d) => d.line === line))
		throw new Error(`${what}: no error marked at line ${line}: ${JSON.stringify(e.diagnostics)}`);
	if (!e.problems.some((p) => p.line === line && p.severity === "error" &&
	    p.text.includes(`line ${line}`)))
		throw new Error(`${what}: the list does not name line ${line}: ${JSON.stringify(e.problems)}`);
	const marks = await page.locator("#editor .cm-lintRange-error, #editor .cm-lintPoint-error").count();
	if (marks === 0)
		throw new Error(`${what}: nothing is underlined in the text`);
	if (!/unchanged/.test(e.msg) || !/kept/.test(e.msg))
		throw new Error(`${what}: the message does not say the file is unchanged: "${e.msg}"`);
	if (e.state !== "dirty" || e.text !== typed.text)
		throw new Error(`${what}: the editor lost the typed text (state ${e.state})`);
	if (!fs.readFileSync(damnitPath("context.py")).equals(bytes) || fileCrc("context.py") !== crc)
		throw new Error(`${what}: the file on disk changed`);
	return e;
}

run("edit-invalid", async ({ page }) => {
	await openFile(page, "context.py");
	await waitState(page, "ok", 10000, "events");
	await startEditing(page);

	const bad = "BROKEN = 1 +";
	await typeAtEnd(page, 11, `\n${bad}`);
	const e = await refused(page, 12, "a syntax error");
	if (e.text.split("\n")[11] !== bad)
		throw new Error("the typed line is not in the editor");

	// The list leads to the line.
	await page.click("#problems li[data-severity=error] button");
	const at = await page.evaluate(async () => {
		const cm = await import(new URL("vendor/codemirror.js", document.baseURI).href);
		const view = cm.EditorView.findFromDOM(document.querySelector("#editor .cm-editor"));
		return view.state.doc.lineAt(view.state.selection.main.head).number;
	});
	if (at !== 12)
		throw new Error(`the list's line 12 leads to line ${at}`);

	// Corrected, it saves; the marks go.
	await page.keyboard.press("Control+Home");
	for (let i = 1; i < 12; i++)
		await page.keyboard.press("ArrowDown");
	await page.keyboard.press("End");
	await page.keyboard.press("Shift+Home");
	await page.keyboard.type("FIXED = 1");
	await page.keyboard.press("Control+s");
	const { value: ok } = await waitEdit(page, "saved", 10000);
	if (ok.diagnostics.some((d) => d.severity === "error") || ok.problems.length)
		throw new Error(`the errors are still marked after a good save: ${JSON.stringify(ok.diagnostics)}`);
	if (fs.readFileSync(damnitPath("context.py"), "utf8").split("\n")[11] !== "FIXED = 1")
		throw new Error("the corrected line is not on disk");

	if (pyflakes) {
		await typeAtEnd(page, 12, "\nHITS = undefined_name_here + 1");
		await refused(page, 13, "an undefined name");
	}
}, { httpCredentials: { username: user, password } });
