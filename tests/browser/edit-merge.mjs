// A save refused because the file changed on disk (412) merges the
// version the edit started from, the editor's text and the disk's
// (DESIGN.md section 9). Changes far apart merge by themselves and are
// shown marked by where they came from until Save merged writes exactly
// the merged text; changes to the same line are a conflict shown in its
// place, and Take mine, Take theirs and Take both each give their text,
// which Save merged (or Ctrl+S) writes. A merged text is saved like any:
// a further change on disk merges it again, and the check's refusal is
// marked in the editor. The merge's folded unchanged lines, and the
// editor's fold markers, are drawn with glyphs the fonts have.
//
// Arguments: USER PASSWORD (a Basic login that may save).
import fs from "node:fs";
import {
	act, damnitPath, edited, fileCrc, fileLines, missingGlyphs, note, openFile, run,
	scratchFile, shown, startEditing, typeAtEnd, waitEdit, waitFor, waitState,
} from "./lib.mjs";

const [user, password] = process.argv.slice(2);

const read = () => fs.readFileSync(damnitPath("context.py"), "utf8");

// The file's text with text appended to lines (from 1): {line: text}.
function withLines(text, changes) {
	const lines = text.split("\n");
	for (const [line, add] of Object.entries(changes))
		lines[line - 1] += add;
	return lines.join("\n");
}

// Another editor's save of text, written beside and renamed over.
async function saveOnDisk(text) {
	await act("rename_over", "context.py", scratchFile(text));
	if (read() !== text)
		throw new Error("the change on disk did not happen");
	return fileCrc("context.py");
}

// Saves with Ctrl+S and waits for the merge, which must name crc (the
// disk's version) and leave the file as it is.
async function saveAndMerge(page, crc, disk) {
	await page.keyboard.press("Control+s");
	const { value: e } = await waitFor("the merge", 10000, async () => {
		const v = await edited(page);
		return v.merge ? v : null;
	});
	if (!e.merge.disk.includes(crc))
		throw new Error(`the merge does not name the disk's version: "${e.merge.disk}"`);
	if (read() !== disk)
		throw new Error("the refused save changed the file");
	return e;
}

// The review's line (from 1) as the page draws it, once scrolled to it
// through the entry of the list of what merged at line via: its text and
// where it came from.
async function drawnLine(page, line, via = line) {
	await page.click(`#m-changes li[data-line="${via}"] button`);
	return waitFor(`line ${line} of the merge drawn`, 3000, () => page.evaluate(async (n) => {
		const cm = await import(new URL("vendor/codemirror.js", document.baseURI).href);
		const view = cm.EditorView.findFromDOM(document.querySelector("#m-review .cm-editor"));
		const at = view.domAtPos(view.state.doc.line(n).from).node;
		const el = (at.nodeType === 1 ? at : at.parentElement).closest(".cm-line");
		if (!el || !el.isConnected)
			return null;
		const box = el.getBoundingClientRect(), scroller = view.scrollDOM.getBoundingClientRect();
		if (box.top < scroller.top || box.bottom > scroller.bottom)
			return null;
		const from = ["mine", "theirs", "both"].find((k) => el.classList.contains(`mg-${k}`));
		return { text: el.textContent, from: from || "base" };
	}, line)).then((r) => r.value);
}

// Saves the merge with Save merged (or Ctrl+S, with key) and waits until
// it is saved: the file holds exactly want, the editor too, and the page
// shows the file's new checksum.
async function savedMerged(page, want, key = false) {
	if (key)
		await page.keyboard.press("Control+s");
	else
		await page.click("#m-save");
	const { value: e } = await waitEdit(page, "saved", 10000);
	if (e.merge)
		throw new Error("the merge stays after Save merged");
	const disk = read();
	if (disk !== want)
		throw new Error(`the file on disk is not the merged text (${disk.length} bytes, ` +
		    `${want.length} expected)`);
	if (e.text !== want)
		throw new Error("the editor does not hold the merged text");
	const crc = fileCrc("context.py");
	if (!e.base.includes(crc))
		throw new Error(`after Save merged the bar says "${e.base}", not ${crc}`);
	await waitFor("the new checksum in the metadata", 2000, async () =>
	    (await shown(page)).checksum === crc);
	note(`Save merged: ${crc} on disk, "${e.msg}"`);
}

run("edit-merge", async ({ page }) => {
	await openFile(page, "context.py");
	await waitState(page, "ok", 10000, "events");
	let { value: start } = await startEditing(page);

	// The editor's fold markers (Python's blocks) are real glyphs.
	await waitFor("the fold markers", 5000, () => page.$$eval("#editor .cm-foldGutter span",
	    (els) => els.some((m) => getComputedStyle(m.parentElement).visibility !== "hidden")));
	let missing = await missingGlyphs(page, "#editor .cm-foldGutter span");
	if (missing.length)
		throw new Error(`fold markers drawn as missing glyphs: ${JSON.stringify(missing)}`);

	// 1. Far apart: mine at line 8, theirs at line 160.
	const base = start.text;
	await typeAtEnd(page, 8, "  # MINE 1");
	await waitEdit(page, "dirty", 2000);
	const theirs = withLines(base, { 160: "  # THEIRS 1" });
	let crc = await saveOnDisk(theirs);
	let e = await saveAndMerge(page, crc, theirs);
	const want = withLines(base, { 8: "  # MINE 1", 160: "  # THEIRS 1" });
	if (e.merge.conflicts !== 0)
		throw new Error(`changes far apart conflict: "${e.merge.summary}"`);
	if (!e.merge.saveEnabled)
		throw new Error("Save merged is not offered for a merge without conflicts");
	if (e.merge.shown !== want.replace(/\n$/, ""))
		throw new Error("the review does not show the merged text");
	const kinds = e.merge.changes.map((c) => `${c.kind}@${c.line}`).join(" ");
	if (kinds !== "mine@8 theirs@160")
		throw new Error(`the review lists ${kinds}, not mine at 8 and theirs at 160`);
	for (const [line, from, text, via] of [[8, "mine", "MINE 1"], [160, "theirs", "THEIRS 1"],
	    [9, "base", "Last change", 8]]) {
		const l = await drawnLine(page, line, via);
		if (l.from !== from || !l.text.includes(text))
			throw new Error(`line ${line} is drawn "${l.text}" marked ${l.from}, not ${from}`);
	}
	note(`review: ${e.merge.changes.map((c) => c.text).join("; ")}`);

	// The unchanged lines are folded into bars of plain words.
	const bars = await page.$$eval("#m-review .mg-collapsed", (els) => els.map((b) => b.textContent));
	if (!bars.length || !bars.every((t) => /^\d+ unchanged lines: show$/.test(t)))
		throw new Error(`the unchanged lines are not folded as they should: ${JSON.stringify(bars)}`);
	missing = await missingGlyphs(page, "#m-review .mg-collapsed, #merge button");
	if (missing.length)
		throw new Error(`the merge draws missing glyphs: ${JSON.stringify(missing)}`);
	await page.click("#m-review .mg-collapsed");
	await waitFor("a fold opened", 2000, async () =>
	    (await page.$$("#m-review .mg-collapsed")).length < bars.length);
	await savedMerged(page, want, true);

	// 2. The same line on both sides (12), and theirs far off too (150).
	const base2 = read();
	await typeAtEnd(page, 12, "  # MINE 2");
	await waitEdit(page, "dirty", 2000);
	const theirs2 = withLines(base2, { 12: "  # THEIRS 2", 150: "  # THEIRS 3" });
	crc = await saveOnDisk(theirs2);
	e = await saveAndMerge(page, crc, theirs2);
	if (e.merge.conflicts !== 1 || e.merge.saveEnabled)
		throw new Error(`one conflict expected, Save merged off: "${e.merge.summary}"`);
	const lines = base2.split("\n");
	const mineLine = `${lines[11]}  # MINE 2`, theirsLine = `${lines[11]}  # THEIRS 2`;
	// In its place: after line 11, before line 13 of base.
	const place = await page.evaluate(() => {
		const box = document.querySelector("#m-review .mg-conflict");
		return box && {
			before: box.previousElementSibling && box.previousElementSibling.textContent,
			after: box.nextElementSibling && box.nextElementSibling.textContent,
			mine: box.querySelector(".mg-mine pre").textContent,
			theirs: box.querySelector(".mg-theirs pre").textContent,
		};
	});
	if (!place || place.before !== lines[10] || place.after !== lines[12] ||
	    place.mine !== mineLine || place.theirs !== theirsLine)
		throw new Error(`the conflict is not shown in place: ${JSON.stringify(place)}`);
	const picked = (which) => {
		const l = withLines(base2, { 150: "  # THEIRS 3" }).split("\n");
		l.splice(11, 1, ...which);
		return l.join("\n");
	};
	for (const [pick, text] of [["mine", picked([mineLine])], ["theirs", picked([theirsLine])],
	    ["both", picked([mineLine, theirsLine])]]) {
		if (pick !== "mine")
			await page.click("#m-review .mg-resolved button:has-text('Pick again')");
		await page.click(`#m-review .mg-conflict button[data-pick="${pick}"]`);
		const { value: v } = await waitFor(`the ${pick} pick`, 3000, async () => {
			const x = await edited(page);
			return x.merge && x.merge.conflicts === 0 ? x : null;
		});
		if (v.merge.shown !== text.replace(/\n$/, ""))
			throw new Error(`Take ${pick} does not give the expected text`);
		if (!v.merge.saveEnabled)
			throw new Error(`Save merged is off after Take ${pick}`);
		if (read() !== theirs2)
			throw new Error("a pick changed the file");
		note(`Take ${pick}: ${v.merge.changes.map((c) => c.text).join("; ")}`);
	}

	// The file changes once more while the merge is shown: said, and Save
	// merged is refused (412) and merges the picked text with it again.
	const theirs3 = withLines(theirs2, { 180: "  # THEIRS 4" });
	crc = await saveOnDisk(theirs3);
	await waitFor("the change during the merge said", 3000, async () =>
	    /changed on disk again/.test((await edited(page)).merge.note));
	await page.click("#m-save");
	const { value: again } = await waitFor("the merge again", 10000, async () => {
		const v = await edited(page);
		return v.merge && v.merge.disk.includes(crc) ? v : null;
	});
	const kinds3 = again.merge.changes.map((c) => `${c.kind}@${c.line}`).join(" ");
	if (again.merge.conflicts !== 0 || kinds3 !== "mine@12 theirs@181")
		throw new Error(`merged again: ${kinds3}, "${again.merge.summary}"`);
	await savedMerged(page, withLines(picked([mineLine, theirsLine]), { 181: "  # THEIRS 4" }));

	// A merged text that the check refuses (the disk's change is a syntax
	// error): marked at its line in the editor, the file untouched.
	const base4 = read();
	await typeAtEnd(page, 8, "  # MINE 5");
	await waitEdit(page, "dirty", 2000);
	const theirs4 = withLines(base4, { 20: " +" });
	crc = await saveOnDisk(theirs4);
	await saveAndMerge(page, crc, theirs4);
	await page.click("#m-save");
	const { value: refused } = await waitFor("the merged text refused", 10000, async () => {
		const v = await edited(page);
		return v.msgKind === "invalid" ? v : null;
	});
	if (refused.merge || refused.text !== withLines(base4, { 8: "  # MINE 5", 20: " +" }))
		throw new Error("the editor does not hold the merged text the check refused");
	if (!refused.diagnostics.some((d) => d.line === 20 && d.severity === "error"))
		throw new Error(`the error is not marked at line 20: ${JSON.stringify(refused.diagnostics)}`);
	if (read() !== theirs4)
		throw new Error("the refused merged text changed the file");
	note(`refused merged text: "${refused.msg}"`);
}, { httpCredentials: { username: user, password } });
