// A change on disk while the file is edited on the page: announced within
// 2 s, the typed text kept. Saving then is refused (412) and merges the
// two for review (edit-merge.mjs tests the merge itself); Keep editing goes
// back to the text, Overwrite saves it over the version merged with,
// Reload takes the disk's version instead. An editor with no change of the
// person's follows the file on disk.
//
// Arguments: USER PASSWORD (a Basic login that may save).
import fs from "node:fs";
import {
	act, damnitPath, edited, fileCrc, fileLines, note, openFile, run, scratchFile, shown,
	startEditing, typeAtEnd, waitEdit, waitFor, waitState,
} from "./lib.mjs";

const [user, password] = process.argv.slice(2);

const read = () => fs.readFileSync(damnitPath("context.py"), "utf8");

// Another editor's save: line (from 1) gets text appended, written beside
// and renamed over.
async function saveOnDisk(line, text) {
	const lines = fileLines("context.py");
	lines[line - 1] += text;
	await act("rename_over", "context.py", scratchFile(lines.join("\n") + "\n"));
	return read();
}

// Types mine at line 8, then the disk changes at line 10; checks that the
// change is announced within 2 s and the typed text kept. Returns the
// editor's text and the disk's.
async function editWhileDiskChanges(page, round) {
	const mine = `  # MINE ${round}`;
	await typeAtEnd(page, 8, mine);
	const { value: typed } = await waitEdit(page, "dirty", 2000);
	const start = Date.now();
	const disk = await saveOnDisk(10, `  # THEIRS ${round}`);
	const crc = fileCrc("context.py");
	const { value: e } = await waitFor("the change on disk announced", 2000, async () => {
		const v = await edited(page);
		return v.diskKind === "changed" ? v : null;
	});
	note(`round ${round}: announced ${Date.now() - start} ms after the save on disk: "${e.disk}"`);
	if (!/changed on disk/.test(e.disk) || !e.disk.includes(crc))
		throw new Error(`the note does not say what changed: "${e.disk}"`);
	if (e.text !== typed.text || e.state !== "dirty")
		throw new Error("the change on disk touched the editor's text");
	if (e.text.split("\n")[9].includes("THEIRS"))
		throw new Error("the disk's line is in the editor");
	return { text: e.text, disk, crc };
}

// Saves with Ctrl+S and waits for the merge; checks that it names the
// disk's version and offers what it must.
async function merged(page, crc, disk) {
	await page.keyboard.press("Control+s");
	const { value: e } = await waitFor("the merge", 10000, async () => {
		const v = await edited(page);
		return v.merge ? v : null;
	});
	if (e.msgKind !== "merge" || !/changed on disk/.test(e.msg))
		throw new Error(`the message does not say why: "${e.msg}"`);
	if (!e.merge.disk.includes(crc))
		throw new Error(`the merge does not name the disk's version: "${e.merge.disk}"`);
	if (read() !== disk)
		throw new Error("the refused save changed the file");
	const buttons = await page.evaluate(() => ["m-save", "m-overwrite", "m-reload", "m-keep"]
	    .map((id) => document.getElementById(id).offsetWidth > 0));
	if (!buttons.every(Boolean))
		throw new Error("Save merged, Overwrite, Reload and Keep editing are not all offered");
	return e;
}

run("edit-conflict", async ({ page }) => {
	await openFile(page, "context.py");
	await waitState(page, "ok", 10000, "events");
	await startEditing(page);

	// Keep editing, then Overwrite.
	let r = await editWhileDiskChanges(page, 1);
	await merged(page, r.crc, r.disk);
	await page.click("#m-keep");
	const { value: kept } = await waitFor("the editor again", 2000, async () => {
		const v = await edited(page);
		return !v.merge && v.state === "dirty" ? v : null;
	});
	if (kept.text !== r.text || kept.diskKind !== "changed")
		throw new Error("Keep editing lost the text or the note");
	await page.click("#e-disk button:has-text('Merge now')");
	await waitFor("the merge from Merge now", 5000, async () => (await edited(page)).merge);
	await page.click("#m-overwrite");
	const { value: over } = await waitEdit(page, "saved", 10000);
	if (over.merge)
		throw new Error("the merge stays after Overwrite");
	const after = read();
	if (after !== r.text || !after.includes("MINE 1") || after.includes("THEIRS 1"))
		throw new Error("Overwrite did not save the editor's text");
	await waitFor("the new checksum in the metadata", 2000, async () =>
	    (await shown(page)).checksum === fileCrc("context.py"));
	if (over.diskKind)
		throw new Error(`after Overwrite the note still says "${over.disk}"`);
	note(`Overwrite: ${fileCrc("context.py")} on disk, "${over.msg}"`);

	// Reload.
	r = await editWhileDiskChanges(page, 2);
	await merged(page, r.crc, r.disk);
	await page.click("#m-reload");
	const { value: reloaded } = await waitEdit(page, "clean", 5000);
	if (reloaded.merge || reloaded.text !== r.disk || read() !== r.disk)
		throw new Error("Reload did not take the disk's version");
	if (!reloaded.base.includes(r.crc) || reloaded.diskKind)
		throw new Error(`after Reload the bar says "${reloaded.base}", the note "${reloaded.disk}"`);
	note(`Reload: "${reloaded.msg}"`);

	// Nothing typed: the editor follows the file.
	const disk = await saveOnDisk(10, "  # THEIRS 3");
	const { value: follows } = await waitFor("the editor following the file", 2000, async () => {
		const v = await edited(page);
		return v.text === disk ? v : null;
	});
	if (follows.state !== "clean" || !follows.base.includes(fileCrc("context.py")) || follows.diskKind)
		throw new Error(`following the file: state ${follows.state}, "${follows.base}"`);
}, { httpCredentials: { username: user, password } });
