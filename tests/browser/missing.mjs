// The states of what is not there: an unknown proposal, a file that does
// not exist (yet), which appears by itself once created.
import { act, note, openFile, run, scratchFile, shown, waitFor, waitState } from "./lib.mjs";

run("missing", async ({ page }) => {
	await openFile(page, "context.py", { proposal: "999999" });
	const { value: p } = await waitState(page, "proposal-not-found", 5000);
	if (!/Proposal 999999 not found/.test(p.banner))
		throw new Error(`the banner says "${p.banner}"`);
	note(`unknown proposal: "${p.banner}"`);

	await openFile(page, "later.log");
	const { value: f } = await waitState(page, "file-not-found", 5000);
	if (!/later\.log does not exist in proposal 1111/.test(f.banner))
		throw new Error(`the banner says "${f.banner}"`);
	note(`missing file: "${f.banner}"`);
	const start = Date.now();
	await act("create", "later.log", scratchFile("it is there now\n"));
	await waitFor("the file once created", 5000, async () => {
		const s = await shown(page);
		return s.state === "ok" && s.lines === 1 && s.rows[0].text === "it is there now";
	});
	note(`created file shown after ${Date.now() - start} ms`);
});
