// Takes the README's screenshot of the file page: node screenshot.mjs
// [URL] [FILE] (default: the demo of `make run` and doc/page.png), logged
// in as "demo" with the password `make run` keeps in build/run/demo-login
// (DEMO_RUN names another run directory).
import fs from "node:fs";
import path from "node:path";
import { launch } from "./lib.mjs";

const url = process.argv[2] || "http://127.0.0.1:8080/#proposal=1111&file=context.py";
const file = process.argv[3] || new URL("../../doc/page.png", import.meta.url).pathname;
const run = process.env.DEMO_RUN || new URL("../../build/run", import.meta.url).pathname;
let httpCredentials;
try {
	const m = fs.readFileSync(path.join(run, "demo-login"), "utf8").match(/^demo (\S+)$/m);
	if (m)
		httpCredentials = { username: "demo", password: m[1] };
} catch {
	// No demo login: a server without one.
}
const b = await launch({ width: 1200, height: 760, httpCredentials });
try {
	await b.page.goto(url);
	await b.page.waitForSelector("#main[data-state=ok] .ln .token", { timeout: 15000 });
	await b.page.waitForTimeout(1200);
	await b.page.screenshot({ path: file });
	if (b.errors.length)
		console.error(b.errors.join("\n"));
} finally {
	await b.close();
}
process.exit(0);
