// The History panel: after a save on the page by one user and a save by
// another (PUT), the panel lists both with who saved them, the newest
// marked current; a version picked with the keyboard shows its text,
// highlighted, and its differences from the current file and from the
// version before it; Restore saves exactly that version's bytes (through
// the editor, If-Match of the current checksum) and the list then shows the
// restore as the newest version. The panel's module is not loaded before
// the panel is opened.
//
// Arguments: USER PASSWORD OTHER OTHER_PASSWORD (two Basic logins that may
// save; the page is USER's).
import fs from "node:fs";
import {
	BASE_URL, damnitPath, fileCrc, note, openFile, run, shown, startEditing, typeAtEnd, waitEdit,
	waitFor, waitState,
} from "./lib.mjs";

const [user, password, other, otherPassword] = process.argv.slice(2);

const read = () => fs.readFileSync(damnitPath("context.py"));
const api = (query) => new URL(`filehandler/file_content?proposal=1111&file_name=context.py${query}`,
    BASE_URL);
const basic = (name, pw) => `Basic ${Buffer.from(`${name}:${pw}`).toString("base64")}`;

// A save by name through the API, from the file on disk.
async function putAs(name, pw, text) {
	const res = await fetch(api(""), {
		method: "PUT",
		body: text,
		headers: { "If-Match": `"${fileCrc("context.py")}"`, Authorization: basic(name, pw),
		    "Content-Type": "text/plain; charset=utf-8" },
	});
	if (res.status !== 200)
		throw new Error(`${name}'s PUT: ${res.status} ${await res.text()}`);
	return res.json();
}

// The panel's list, newest first.
function listed(page) {
	return page.evaluate(() => [...document.querySelectorAll("#h-list .h-item")].map((b) => ({
		user: b.querySelector(".h-user").textContent,
		text: b.querySelector(".h-who").textContent,
		checksum: b.dataset.checksum,
		source: b.dataset.source,
		badge: b.querySelector(".h-badge") ? b.querySelector(".h-badge").textContent : "",
		pressed: b.getAttribute("aria-pressed") === "true",
	})));
}

// The version shown: its bar, the summary, the text of its view
// (CodeMirror's own), how many highlighted tokens, the lines marked added
// and removed, and whether Restore is offered.
function versionShown(page) {
	return page.evaluate(async () => {
		const cm = await import(new URL("vendor/codemirror.js", document.baseURI).href);
		const $ = (id) => document.getElementById(id);
		const host = document.querySelector("#v-body .cm-editor");
		const view = host ? cm.EditorView.findFromDOM(host) : null;
		const lines = (cls) => [...document.querySelectorAll(`#v-body .cm-line.${cls}`)]
		    .map((l) => l.textContent);
		return {
			on: $("main").dataset.version === "on",
			title: $("v-title").textContent,
			summary: $("v-summary").hidden ? "" : $("v-summary").textContent,
			msg: $("v-msg").hidden ? "" : $("v-msg").textContent,
			text: view ? view.state.sliceDoc() : null,
			highlighted: host ? host.querySelectorAll(".cm-line span[class]").length : 0,
			added: lines("hd-add"),
			removed: lines("hd-del"),
			restore: !$("v-restore").hidden && !$("v-restore").disabled,
		};
	});
}

const loaded = (page, name) => page.evaluate((n) => performance.getEntriesByType("resource")
    .some((e) => new URL(e.name).pathname.endsWith(`/${n}`)), name);

run("history", async ({ page }) => {
	await openFile(page, "context.py");
	await waitState(page, "ok", 10000, "events");
	await waitFor("the History button", 10000, () => page.isVisible("#history-open"));
	if (await loaded(page, "history.js"))
		throw new Error("the panel's module is loaded before the panel is opened");

	// A save on the page by USER, then one by OTHER through the API.
	await startEditing(page);
	const mine = "ALICE_WAS_HERE = 1";
	await typeAtEnd(page, 11, `\n${mine}`);
	await waitEdit(page, "dirty", 2000);
	await page.keyboard.press("Control+s");
	await waitEdit(page, "saved", 10000);
	const first = read(), firstCrc = fileCrc("context.py");
	await page.click("#e-close");
	const lines = first.toString("utf8").split("\n");
	const plain = lines[7];
	lines[7] += "  # changed by the other";
	await putAs(other, otherPassword, lines.join("\n"));
	const secondCrc = fileCrc("context.py");
	await waitFor("the other's save on the page", 5000, async () =>
	    (await shown(page)).checksum === secondCrc);

	// The list: the other's save, current; then USER's; then the version
	// before them, as seen on disk.
	await page.click("#history-open");
	const { value: list } = await waitFor("the two saves listed", 5000, async () => {
		const l = await listed(page);
		return l.length >= 3 && l[0].checksum === secondCrc ? l : null;
	});
	note(`listed: ${list.slice(0, 3).map((v) => `"${v.text}" ${v.badge}`).join("; ")}`);
	if (list[0].user !== other || list[0].badge !== "current" ||
	    !new RegExp(`^${other}, (just now|\\d+ min ago)$`).test(list[0].text))
		throw new Error(`the newest is not ${other}'s, current: ${JSON.stringify(list[0])}`);
	if (list[1].user !== user || list[1].checksum !== firstCrc || list[1].badge)
		throw new Error(`the second is not ${user}'s save: ${JSON.stringify(list[1])}`);
	if (list[2].source !== "disk" || !/^changed on disk, /.test(list[2].text))
		throw new Error(`the third is not the version seen on disk: ${JSON.stringify(list[2])}`);
	if (!(await loaded(page, "history.js")))
		throw new Error("the panel's module is not loaded");

	// USER's version, picked with the keyboard: its text, highlighted.
	const focused = await page.evaluate(() => document.activeElement.dataset.checksum);
	if (focused !== secondCrc)
		throw new Error(`opening the panel focuses ${focused}, not the newest version`);
	await page.keyboard.press("ArrowDown");
	await page.keyboard.press("Enter");
	const { value: text } = await waitFor("the version's text", 5000, async () => {
		const v = await versionShown(page);
		return v.on && v.text !== null ? v : null;
	});
	if (text.text !== first.toString("utf8"))
		throw new Error("the version shown is not the text of the first save");
	if (!text.title.startsWith(`${user}, `) || !text.restore)
		throw new Error(`the bar says "${text.title}", Restore offered: ${text.restore}`);
	if (text.highlighted < 10)
		throw new Error(`the version's text is not highlighted (${text.highlighted} tokens)`);

	// Against the current file: the other's line is only in the current
	// file, the plain one only in this version.
	await page.click("#version-view .v-modes button[data-mode=current]");
	const { value: cur } = await waitFor("the differences from the current file", 5000, async () => {
		const v = await versionShown(page);
		return v.removed.length ? v : null;
	});
	note(`against the current file: "${cur.summary}"`);
	if (cur.removed.join("\n") !== lines[7] || cur.added.join("\n") !== plain)
		throw new Error(`marked: removed ${JSON.stringify(cur.removed)}, added ${JSON.stringify(cur.added)}`);
	// Against the previous version: the line USER typed.
	await page.click("#version-view .v-modes button[data-mode=previous]");
	const { value: prev } = await waitFor("the differences from the previous version", 5000,
	    async () => {
		    const v = await versionShown(page);
		    return v.added.length && !v.removed.length ? v : null;
	    });
	note(`against the previous version: "${prev.summary}"`);
	if (prev.added.join("\n") !== mine)
		throw new Error(`added: ${JSON.stringify(prev.added)}`);

	// Restore: asked, then saved through the editor from the current
	// checksum; exactly the version's bytes on disk.
	await page.click("#v-restore");
	const { value: ask } = await waitFor("Restore asking", 2000, async () => {
		const v = await versionShown(page);
		return v.msg ? v : null;
	});
	if (!/Restore the version of/.test(ask.msg) || read().compare(Buffer.from(lines.join("\n"))) !== 0)
		throw new Error(`Restore did not ask first: "${ask.msg}"`);
	await page.click("#v-msg button:has-text('Restore')");
	const { value: saved } = await waitEdit(page, "saved", 10000);
	note(`restored: "${saved.msg}"`);
	const res = await fetch(api(`&version=${firstCrc}`), { headers: { Authorization: basic(user, password) } });
	const kept = await res.json();
	if (res.status !== 200 || read().compare(Buffer.from(kept.content, "utf8")) !== 0 ||
	    read().compare(first) !== 0 || fileCrc("context.py") !== firstCrc)
		throw new Error("the file on disk is not exactly the restored version's bytes");
	const { value: after } = await waitFor("the restore listed as the newest", 5000, async () => {
		const l = await listed(page);
		return l.length === list.length + 1 && l[0].checksum === firstCrc ? l : null;
	});
	if (after[0].user !== user || after[0].badge !== "current" || after[1].checksum !== secondCrc)
		throw new Error(`after the restore: ${JSON.stringify(after.slice(0, 2))}`);
	note(`after the restore: "${after[0].text}" ${after[0].badge}`);
}, { httpCredentials: { username: user, password } });
