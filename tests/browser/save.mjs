// A rename-over save (a new file written beside, then moved over) shows
// the new content within 2 s without a reload, the changed lines marked.
// With "poll" as argument the page is told to long-poll /has_new_checksum
// instead of /events (the fallback).
import { act, fileCrc, fileLines, note, openFile, run, scratchFile, shown, waitFor, waitState } from "./lib.mjs";

const poll = process.argv[2] === "poll";
const how = poll ? "long-poll" : "events";

run(poll ? "save-poll" : "save", async ({ page }) => {
	await openFile(page, "context.py", { extra: poll ? "&live=poll" : "" });
	await waitState(page, "ok", 10000, how);
	await page.evaluate(() => { window.notReloaded = true; });
	const old = fileLines("context.py");
	const at = 11;	// the 12th line, in the first screen
	const marker = `SAVED_BY_TEST = ${Date.now()}  # ${how}`;
	const lines = old.slice(0, at).concat([marker, `# ${old[at]}`], old.slice(at + 1));
	const src = scratchFile(lines.join("\n") + "\n");
	const start = Date.now();
	await act("rename_over", "context.py", src);
	const { value: s, ms } = await waitFor("the saved line on the page", 2000, async () => {
		const v = await shown(page);
		return v.rows.some((r) => r.no === at + 1 && r.text === marker) ? v : null;
	});
	note(`${how}: rename-over save to page in ${Date.now() - start} ms (seen ${ms} ms after the save)`);
	if (!(await page.evaluate(() => window.notReloaded === true)))
		throw new Error("the page was reloaded");
	const changed = s.rows.filter((r) => r.changed).map((r) => r.no);
	if (!changed.includes(at + 1) || !changed.includes(at + 2))
		throw new Error(`lines ${at + 1} and ${at + 2} are not marked as changed: ${changed}`);
	if (changed.some((n) => n < at + 1 || n > at + 2))
		throw new Error(`unchanged lines are marked: ${changed}`);
	if (s.lines !== lines.length)
		throw new Error(`${s.lines} lines shown, the file has ${lines.length}`);
	await waitFor("the new checksum", 2000, async () =>
	    (await shown(page)).checksum === fileCrc("context.py"));
	await waitFor("the mark fading", 4000, async () =>
	    !(await shown(page)).rows.some((r) => r.changed));
	const live = (await shown(page)).live;
	if (live !== how)
		throw new Error(`live is ${live}, not ${how}`);
});
