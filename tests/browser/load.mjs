// The page loads the demo context.py: every line numbered, Python
// highlighted, the metadata of the file on disk, live through /events;
// under the web server's Content-Security-Policy (no inline script), which
// it violates nowhere (lib.mjs fails every test on a violation).
import { fileCrc, fileLines, note, openFile, run, shown, waitFor, waitState } from "./lib.mjs";
import fs from "node:fs";
import { damnitPath } from "./lib.mjs";

run("load", async ({ page }) => {
	const lines = fileLines("context.py");
	const size = fs.statSync(damnitPath("context.py")).size;
	const start = Date.now();
	const answer = await openFile(page, "context.py");
	const csp = (answer && answer.headers()["content-security-policy"]) || "";
	if (!/(^|; )script-src 'self'(;|$)/.test(csp) || !csp.includes("frame-ancestors 'none'"))
		throw new Error(`the page comes without its policy: "${csp}"`);
	await waitState(page, "ok", 10000, "events");
	const { value: s } = await waitFor("highlighted rows", 5000, async () => {
		const v = await shown(page);
		return v.rows.some((r) => r.html.includes("token")) ? v : null;
	});
	note(`loaded and highlighted in ${Date.now() - start} ms: ${s.lines} lines, ${s.rows.length} rows in the page`);
	if (s.lines !== lines.length)
		throw new Error(`${s.lines} lines shown, the file has ${lines.length}`);
	for (const r of s.rows)
		if (r.text !== lines[r.no - 1])
			throw new Error(`line ${r.no} shows ${JSON.stringify(r.text)}, the file has ${JSON.stringify(lines[r.no - 1])}`);
	if (s.rows[0].no !== 1 || !s.visible.includes(1))
		throw new Error("the view does not start at line 1");
	if (!s.rows[0].html.includes('class="token comment"'))
		throw new Error(`line 1 (a comment) is not highlighted as one: ${s.rows[0].html}`);
	const imp = s.rows.find((r) => r.text.startsWith("import "));
	if (!imp || !imp.html.includes('<span class="token keyword">import</span>'))
		throw new Error("import is not highlighted as a keyword");
	if (s.rows.length >= lines.length && lines.length > 150)
		throw new Error(`every line is in the page (${s.rows.length} rows)`);
	if (!s.size.includes(`${size.toLocaleString("en")} bytes`))
		throw new Error(`size shows "${s.size}", the file has ${size} bytes`);
	if (s.checksum !== fileCrc("context.py"))
		throw new Error(`checksum shows ${s.checksum}, the file's is ${fileCrc("context.py")}`);
	if (!/^(just now|\d+ (s|min|h) ago|\d+ days ago)$/.test(s.modified))
		throw new Error(`modified shows "${s.modified}"`);
	note(`metadata: ${s.size}, checksum ${s.checksum}, modified ${s.modified}, live: ${s.live}`);
});
