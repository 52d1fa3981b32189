// The page behind a login, with watcherd's --access unix: a user who may
// not read a proposal's files sees, in words, that he may not (naming him
// and the proposal), not a broken view and none of the file's content; the
// header still says who is logged in. On the same page, a proposal he may
// read is shown as usual.
//
// Arguments: USER PASSWORD (the Basic login, USER without the right to
// read proposal 1111) and OPEN_FILE (proposal 2222's context.py on disk,
// readable to everybody).
import fs from "node:fs";
import { note, openFile, run, shown, waitFor, waitState } from "./lib.mjs";

const [user, password, openPath] = process.argv.slice(2);

// The header's "Logged in as ...".
function who(page) {
	return page.evaluate(() => {
		const el = document.getElementById("user");
		return { name: el.textContent, hidden: el.parentElement.hidden,
		    line: el.parentElement.textContent.replace(/\s+/g, " ").trim() };
	});
}

async function expectUser(page, when) {
	const w = await who(page);
	if (w.hidden || w.name !== user)
		throw new Error(`${when}: the header says "${w.line}" (hidden: ${w.hidden}), not ${user}`);
	return w;
}

run("forbidden", async ({ page }) => {
	if (!user || !password || !openPath)
		throw new Error("usage: forbidden.mjs USER PASSWORD OPEN_FILE");
	const requests = [];
	page.on("request", (r) => {
		if (/\/filehandler\//.test(r.url()))
			requests.push(r.url());
	});

	// Proposal 1111: its group only, and he is not in it.
	await openFile(page, "context.py", { proposal: "1111" });
	const { value: s, ms } = await waitState(page, "forbidden", 10000);
	note(`forbidden after ${ms} ms: "${s.banner}"`);
	if (!s.banner)
		throw new Error("the forbidden state shows no banner");
	if (!s.banner.includes(user))
		throw new Error(`the banner does not name ${user}: "${s.banner}"`);
	if (!/\bproposal 1111\b/.test(s.banner))
		throw new Error(`the banner does not name proposal 1111: "${s.banner}"`);
	if (!/may not/.test(s.banner))
		throw new Error(`the banner does not say he may not: "${s.banner}"`);
	if (/undefined|null|\[object/.test(s.banner))
		throw new Error(`the banner has a hole in it: "${s.banner}"`);
	// Nothing of the file: no rows, no line count, no checksum or size.
	if (s.rows.length || s.lines)
		throw new Error(`the page shows ${s.lines} lines of a file it may not read`);
	if (s.checksum !== "—" || s.size !== "—")
		throw new Error(`the page shows the file's metadata: ${s.size}, ${s.checksum}`);
	if (s.live !== "off")
		throw new Error(`the live badge says "${s.live}" for a file that may not be read`);
	const w = await expectUser(page, "forbidden");
	note(`the header says "${w.line}"`);
	const visible = await page.evaluate(() => {
		const b = document.getElementById("banner").getBoundingClientRect();
		return b.width > 0 && b.height > 0;
	});
	if (!visible)
		throw new Error("the banner takes no room on the page");

	// It stays so: no retry turns it into another state.
	const before = requests.length;
	await new Promise((r) => setTimeout(r, 1500));
	const again = await shown(page);
	if (again.state !== "forbidden" || again.banner !== s.banner || again.rows.length)
		throw new Error(`1.5 s later the page is "${again.state}": "${again.banner}"`);
	note(`requests to the handler in the 1.5 s after the 403: ${requests.length - before}`);

	// Proposal 2222, open to everybody: the same page, the same login.
	const lines = fs.readFileSync(openPath, "utf8").replace(/\n$/, "").split("\n");
	await openFile(page, "context.py", { proposal: "2222" });
	const { value: ok } = await waitFor("proposal 2222's context.py", 10000, async () => {
		const t = await shown(page);
		return t.state === "ok" && t.lines === lines.length &&
		    t.rows.length === lines.length && t.rows.every((r, i) => r.text === lines[i]) ? t : null;
	});
	if (ok.banner !== "")
		throw new Error(`the forbidden banner is still there: "${ok.banner}"`);
	const proposal = await page.evaluate(() => document.getElementById("m-proposal").textContent);
	if (proposal !== "proposal 2222")
		throw new Error(`the metadata says "${proposal}"`);
	await expectUser(page, "proposal 2222");
	// And followed, like any file he may read.
	const { value: live } = await waitFor("proposal 2222's context.py live", 5000, async () => {
		const t = await shown(page);
		return t.state === "ok" && t.live !== "off" && t.live !== "waiting" ? t : null;
	});
	note(`proposal 2222: ${ok.lines} line(s), "${ok.rows[0].text}", live: ${live.live}`);
}, { httpCredentials: { username: user, password } });
