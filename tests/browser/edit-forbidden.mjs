// Saves that do not go through, said in words, the typed text kept: a 503
// (played by the browser: the service busy) says to save again later, a
// 401 (played too: a login that expired) says to log in again, and a real
// 403 for a user who may read but not save names him, turns the editor
// read-only with his text still in it, and the page then offers no Edit
// for the file. The file on disk never changes.
//
// Arguments: USER PASSWORD (a Basic login that may read, not save).
import fs from "node:fs";
import {
	damnitPath, edited, note, openFile, run, startEditing, typeAtEnd, waitEdit, waitFor,
	waitState,
} from "./lib.mjs";

const [user, password] = process.argv.slice(2);

// The next save answered by the browser itself with status and body.
function answerPut(page, status, body, headers = {}) {
	return page.route(/\/filehandler\/file_content/, (route) => {
		if (route.request().method() !== "PUT")
			return route.continue();
		return route.fulfill({ status, contentType: "application/json", headers,
		    body: JSON.stringify(body) });
	});
}

// Saves with Ctrl+S; waits for the message of kind; checks that the text
// and the file stayed.
async function notSaved(page, kind, typed, bytes) {
	await page.keyboard.press("Control+s");
	const { value: e } = await waitFor(`the ${kind} message`, 10000, async () => {
		const v = await edited(page);
		return v.msgKind === kind ? v : null;
	});
	if (e.text !== typed)
		throw new Error(`${kind}: the editor lost the typed text`);
	if (!fs.readFileSync(damnitPath("context.py")).equals(bytes))
		throw new Error(`${kind}: the file on disk changed`);
	note(`${kind}: "${e.msg}"`);
	return e;
}

run("edit-forbidden", async ({ page }) => {
	const bytes = fs.readFileSync(damnitPath("context.py"));
	await openFile(page, "context.py");
	await waitState(page, "ok", 10000, "events");
	await startEditing(page);
	await typeAtEnd(page, 11, `\nNOT_MINE_TO_SAVE = 1`);
	const { value: typed } = await waitEdit(page, "dirty", 2000);

	await answerPut(page, 503, { detail: "watcherd is busy" }, { "Retry-After": "2" });
	let e = await notSaved(page, "unavailable", typed.text, bytes);
	if (!/save again in 2 seconds/.test(e.msg) || !/kept/.test(e.msg) || e.state !== "dirty")
		throw new Error(`a 503 says "${e.msg}" (state ${e.state})`);
	await page.unroute(/\/filehandler\/file_content/);

	await answerPut(page, 401, { detail: "log in" });
	e = await notSaved(page, "login", typed.text, bytes);
	if (!/not logged in/.test(e.msg) || !/reload the page/.test(e.msg) || e.state !== "dirty")
		throw new Error(`a 401 says "${e.msg}" (state ${e.state})`);
	await page.unroute(/\/filehandler\/file_content/);

	e = await notSaved(page, "forbidden", typed.text, bytes);
	if (!e.msg.includes(user) || !/may not/.test(e.msg) || !/read-only/.test(e.msg))
		throw new Error(`a 403 says "${e.msg}"`);
	if (e.state !== "read-only" || e.editable)
		throw new Error(`after a 403 the editor is ${e.state}, editable: ${e.editable}`);
	await page.click("#editor .cm-content");
	await page.keyboard.type("more");
	if ((await edited(page)).text !== typed.text)
		throw new Error("the read-only editor took keys");

	await page.click("#e-close");
	const { value: after } = await waitFor("the live view, read-only", 5000, async () => {
		const v = await page.evaluate(() => ({
			editing: document.getElementById("main").dataset.editing === "on",
			edit: !document.getElementById("edit").hidden,
			note: document.getElementById("m-readonly").hidden ? "" :
			    document.getElementById("m-readonly").textContent,
		}));
		return !v.editing ? v : null;
	});
	if (after.edit || !/read-only/.test(after.note))
		throw new Error(`after closing, Edit is ${after.edit ? "offered" : "gone"}, the note "${after.note}"`);
}, { httpCredentials: { username: user, password } });
