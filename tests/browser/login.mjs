// The page behind a login (lighttpd's Basic login from
// FILEHANDLER_AUTH_USERFILE, as alice): it shows the file and says who is
// logged in, from the handler's X-Remote-User. A login that expires
// (OpenID Connect sessions do; here the web server's 401 is played by the
// browser itself) is said in words, not shown as a broken view.
import { note, openFile, run, waitState } from "./lib.mjs";

run("login", async ({ page }) => {
	await openFile(page, "context.py");
	await waitState(page, "ok", 10000);
	const who = await page.evaluate(() => {
		const el = document.getElementById("user");
		return { name: el.textContent, hidden: el.parentElement.hidden,
		    line: el.parentElement.textContent.replace(/\s+/g, " ").trim() };
	});
	if (who.hidden || who.name !== "alice")
		throw new Error(`the header says "${who.line}" (hidden: ${who.hidden})`);
	note(`the page says "${who.line}"`);

	await page.route(/\/filehandler\/(file_content|file_tail|has_new_checksum|events)/, (route) => route.fulfill({
		status: 401, contentType: "application/json",
		headers: { "WWW-Authenticate": 'Bearer realm="DAMNIT"' },
		body: JSON.stringify({ detail: "log in" }),
	}));
	await openFile(page, "damnit.log");
	const { value: s } = await waitState(page, "login", 10000);
	if (!/not logged in, or your login has expired/.test(s.banner))
		throw new Error(`on a 401 the banner says "${s.banner}"`);
	note(`a 401: "${s.banner}"`);
}, { httpCredentials: { username: "alice", password: "open sesame" } });
