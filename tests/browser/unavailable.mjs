// Stopping watcherd shows "service unavailable — retrying"; starting it
// again brings the page back by itself, live again.
import { act, fileLines, note, openFile, run, scratchFile, shown, waitFor, waitState } from "./lib.mjs";

run("unavailable", async ({ page }) => {
	await openFile(page, "context.py");
	await waitState(page, "ok", 10000, "events");
	let start = Date.now();
	await act("stop_watcherd");
	const { value: u } = await waitState(page, "unavailable", 3000);
	note(`unavailable state ${Date.now() - start} ms after watcherd stopped: "${u.banner}"`);
	if (!u.banner.startsWith("Service unavailable — retrying"))
		throw new Error(`the banner says "${u.banner}"`);
	if (u.live !== "off")
		throw new Error(`the page still claims to be live (${u.live})`);
	start = Date.now();
	await act("start_watcherd");
	await waitState(page, "ok", 5000, "events");
	note(`recovered ${Date.now() - start} ms after watcherd started`);
	// Live again: a save is seen.
	const lines = fileLines("context.py");
	lines[0] = "# saved after watcherd came back";
	await act("rename_over", "context.py", scratchFile(lines.join("\n") + "\n"));
	await waitFor("the save after the restart", 2000, async () =>
	    (await shown(page)).rows.some((r) => r.no === 1 && r.text === lines[0]));
});
