// Deleting the file shows the deleted state (the last version still
// shown); recreating it brings the page back by itself.
import { act, note, openFile, run, scratchFile, shown, waitFor, waitState, fileLines } from "./lib.mjs";

run("deleted", async ({ page }) => {
	await openFile(page, "context.py");
	await waitState(page, "ok", 10000, "events");
	const old = fileLines("context.py");
	let start = Date.now();
	await act("delete", "context.py");
	const { value: d } = await waitState(page, "deleted", 2000);
	note(`deleted state after ${Date.now() - start} ms: "${d.banner}"`);
	if (!/context\.py was deleted/.test(d.banner))
		throw new Error(`the banner says "${d.banner}"`);
	if (d.lines !== old.length)
		throw new Error("the last version is no longer shown");
	const back = ["# recreated by the test", "RECREATED = True"];
	start = Date.now();
	await act("create", "context.py", scratchFile(back.join("\n") + "\n"));
	await waitFor("the recreated file", 2000, async () => {
		const s = await shown(page);
		return s.state === "ok" && s.live === "events" && s.lines === 2 &&
		    s.rows[1].text === back[1] && s.banner === "";
	});
	note(`recreated file shown after ${Date.now() - start} ms`);
	// Leave the demo file as it was for the tests after this one.
	await act("create", "context.py", scratchFile(old.join("\n") + "\n"));
	await waitFor("the old content again", 2000, async () => (await shown(page)).lines === old.length);
});
