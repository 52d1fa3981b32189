// A log: the view opens at its end; an append appears at the end and the
// view follows it; scrolled up, the view stays where the person put it and
// offers the new lines; a replaced (shorter) log is reloaded.
import { act, fileLines, note, openFile, run, scratchFile, shown, waitFor, waitState } from "./lib.mjs";

const LOG = "damnit.log";

run("log", async ({ page }) => {
	await openFile(page, LOG);
	const { value: first } = await waitState(page, "ok", 10000, "events");
	let lines = fileLines(LOG);
	await waitFor("the last line in view", 2000, async () => {
		const s = await shown(page);
		return s.lines === lines.length && s.visible.includes(lines.length);
	});
	note(`${LOG}: ${lines.length} lines, opened at its end (${first.size})`);

	const line = `2026-01-14 10:00:00,000 ERROR test: appended at ${Date.now()}`;
	let start = Date.now();
	await act("append", LOG, line);
	await waitFor("the appended line at the end, in view", 2000, async () => {
		const s = await shown(page);
		const last = s.rows.find((r) => r.no === lines.length + 1);
		return s.lines === lines.length + 1 && last && last.text === line &&
		    last.changed && s.visible.includes(lines.length + 1);
	});
	note(`append to page in ${Date.now() - start} ms, view followed the end`);
	lines = fileLines(LOG);

	// Scrolled up: the view stays, the new lines are offered.
	await page.evaluate(() => { document.getElementById("viewport").scrollTop = 0; });
	await waitFor("the view at the top", 1000, async () => (await shown(page)).visible.includes(1));
	await act("append", LOG, "a line while scrolled up");
	await waitFor("the new line counted, the view where it was", 2000, async () => {
		const s = await shown(page);
		const jump = await page.textContent("#jump");
		return s.lines === lines.length + 1 && s.scrollTop === 0 &&
		    (await page.isVisible("#jump")) && /1 new line/.test(jump);
	});
	await page.click("#jump");
	await waitFor("back at the end after the jump", 2000, async () => {
		const s = await shown(page);
		return s.visible.includes(lines.length + 1) && !(await page.isVisible("#jump"));
	});

	// Replaced by a shorter log (rotation): a reset, the page reloads it.
	const fresh = ["2026-01-15 00:00:00,000 INFO rotated: first line", "second line"];
	start = Date.now();
	await act("rename_over", LOG, scratchFile(fresh.join("\n") + "\n"));
	await waitFor("the replaced log reloaded", 2000, async () => {
		const s = await shown(page);
		return s.lines === 2 && s.rows.length === 2 && s.rows[0].text === fresh[0] &&
		    s.rows[1].text === fresh[1];
	});
	note(`replaced log reloaded in ${Date.now() - start} ms`);
});
