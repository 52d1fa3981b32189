// What the browser tests share: headless Chromium (Debian's, driven by
// playwright-core), the page, bounded waits, and the line protocol with
// tests/bats/browser.bats, which makes the real changes on disk and to the
// servers:
//
//   test -> bats   "do ACTION [ARG]"   bats runs the action, answers "done"
//                                      (or "failed MESSAGE")
//   test -> bats   "# text"            shown in the TAP output
//   test -> bats   "ok" / "fail MSG"   the end of the test
//
// Environment: BASE_URL (the page, e.g. http://127.0.0.1:PORT/), DAMNIT
// (the test's copy of proposal 1111's DAMNIT folder), T (a scratch
// directory for the actions' files), OUT_DIR (where a failing test leaves
// its screenshot).

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import zlib from "node:zlib";
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
export const BASE_URL = process.env.BASE_URL || "http://127.0.0.1:8080/";

// The flags a closed network needs: without the background networking ones
// Chromium stalls on requests that never answer.
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync"];

const input = readline.createInterface({ input: process.stdin });
const answers = [];
let waiter = null;
input.on("line", (line) => {
	if (waiter) {
		const w = waiter;
		waiter = null;
		w(line);
	} else {
		answers.push(line);
	}
});

export function note(text) {
	process.stdout.write(`# ${text}\n`);
}

// Asks bats to do ACTION; resolves once it is done.
export async function act(action, ...args) {
	process.stdout.write(`do ${[action, ...args].join(" ")}\n`);
	const line = answers.length ? answers.shift() :
	    await new Promise((resolve, reject) => {
		    const t = setTimeout(() => reject(new Error(`no answer to "${action}" within 60 s`)), 60000);
		    waiter = (l) => {
			    clearTimeout(t);
			    resolve(l);
		    };
	    });
	if (line !== "done")
		throw new Error(`${action}: ${line}`);
}

// A fresh browser with a fresh profile (answering HTTP logins with
// httpCredentials, when given), and a page whose console errors, failed
// scripts and Content-Security-Policy violations are collected (a test
// fails on them).
export async function launch({ width = 1280, height = 800, httpCredentials } = {}) {
	const profile = fs.mkdtempSync(path.join(os.tmpdir(), "fh-chromium-"));
	const context = await chromium.launchPersistentContext(profile, {
		executablePath: CHROMIUM,
		headless: true,
		args: ARGS,
		viewport: { width, height },
		timeout: 60000,
		httpCredentials,
	});
	const page = context.pages()[0] || await context.newPage();
	const errors = [];
	// The page's policy (the web server's headers) must let all of it
	// run: a violation is reported in the page's console, which comes
	// here. Added by the browser, not by the page, so the policy allows it.
	await context.addInitScript(() => {
		document.addEventListener("securitypolicyviolation", (e) =>
		    console.error(`CSP violation: ${e.effectiveDirective} refused ` +
		    `${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber} ` +
		    `(${(e.sample || "").slice(0, 80)})`));
	});
	page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
	page.on("console", (m) => {
		// A refused stream or a 404 the page expects logs as a failed
		// load; scripts that throw do not.
		if (m.type() === "error" && !/Failed to load resource|EventSource/.test(m.text()))
			errors.push(`console: ${m.text()}`);
	});
	return {
		page,
		errors,
		async close() {
			await context.close().catch(() => {});
			fs.rmSync(profile, { recursive: true, force: true });
		},
	};
}

// Polls fn (in the test) every 50 ms until it returns a truthy value or
// ms pass; returns the value and how long it took.
export async function waitFor(what, ms, fn) {
	const start = Date.now();
	let last;
	for (;;) {
		try {
			last = await fn();
		} catch (e) {
			last = undefined;
		}
		if (last)
			return { value: last, ms: Date.now() - start };
		if (Date.now() - start > ms)
			throw new Error(`${what}: not within ${ms} ms`);
		await new Promise((r) => setTimeout(r, 50));
	}
}

// What the page shows: its state, the live badge, the metadata and the
// rows in view (line number and text).
export function shown(page) {
	return page.evaluate(() => {
		const vp = document.getElementById("viewport");
		const rows = [...vp.querySelectorAll(".ln")].map((r) => ({
			no: Number(r.querySelector(".no").textContent),
			text: r.querySelector(".tx").textContent,
			changed: r.classList.contains("changed"),
			html: r.querySelector(".tx").innerHTML,
		}));
		const text = (id) => document.getElementById(id).textContent;
		const box = vp.getBoundingClientRect();
		const visible = [...vp.querySelectorAll(".ln")].filter((r) => {
			const b = r.getBoundingClientRect();
			return b.top >= box.top - 1 && b.bottom <= box.bottom + 1;
		}).map((r) => Number(r.querySelector(".no").textContent));
		return {
			state: document.getElementById("main").dataset.state,
			banner: document.getElementById("banner").hidden ? "" : text("banner"),
			live: document.getElementById("m-live").dataset.live,
			size: text("m-size"),
			checksum: text("m-checksum"),
			modified: text("m-modified"),
			lines: Number(vp.dataset.lines || 0),
			rows,
			visible,
			scrollTop: vp.scrollTop,
		};
	});
}

// Runs a test: main(t) gets the browser (launched with options); prints
// "ok" or "fail ..." and exits. A failing test leaves a screenshot in
// OUT_DIR.
export async function run(name, main, options = {}) {
	let b = null, status = 0;
	try {
		b = await launch(options);
		await main(b);
		if (b.errors.length)
			throw new Error(b.errors.join("; "));
		process.stdout.write("ok\n");
	} catch (e) {
		status = 1;
		if (b && process.env.OUT_DIR) {
			const shot = path.join(process.env.OUT_DIR, `${name}.png`);
			await b.page.screenshot({ path: shot }).catch(() => {});
			note(`screenshot of the failure: ${shot}`);
		}
		if (b)
			note(`page state: ${JSON.stringify(await shown(b.page).catch(() => null)).slice(0, 600)}`);
		process.stdout.write(`fail ${String(e && e.message || e).replace(/\n/g, " ")}\n`);
	} finally {
		if (b)
			await b.close();
		input.close();
	}
	process.exit(status);
}

// The test's files.

export const DAMNIT = process.env.DAMNIT;
export const T = process.env.T || os.tmpdir();

export function damnitPath(file) {
	return path.join(DAMNIT, file);
}

// The lines of a file on disk, as the page numbers them.
export function fileLines(file) {
	const lines = fs.readFileSync(damnitPath(file), "utf8").split("\n");
	if (lines[lines.length - 1] === "")
		lines.pop();
	return lines;
}

// CRC-32 of a file on disk (zlib's), as watcherd answers it.
export function fileCrc(file) {
	return (zlib.crc32(fs.readFileSync(damnitPath(file))) >>> 0).toString(16).padStart(8, "0");
}

let scratch = 0;
// A file of T holding text, for an action that puts it in place.
export function scratchFile(text) {
	const f = path.join(T, `browser-${process.pid}-${++scratch}.txt`);
	fs.writeFileSync(f, text);
	return f;
}

// Opens the page on a file (extra: more of the address, "&live=poll");
// resolves to the page's answer (playwright's Response).
export function openFile(page, file, { proposal = "1111", extra = "" } = {}) {
	return page.goto(`${BASE_URL}#proposal=${proposal}&file=${encodeURIComponent(file)}${extra}`);
}

// Waits until the page is in state (and, for "ok", live as live).
export function waitState(page, state, ms, live) {
	return waitFor(`state ${state}${live ? ` (${live})` : ""}`, ms, async () => {
		const s = await shown(page);
		return s.state === state && (!live || s.live === live) ? s : null;
	});
}

// The editor (www/editor.js): what it shows, read through CodeMirror's own
// view of the page's editors (the module the page imported), and keys
// typed as a person types them.

// Clicks "Edit" and waits until the editor holds the file.
export async function startEditing(page) {
	await waitFor("the Edit button", 10000, () => page.isVisible("#edit"));
	await page.click("#edit");
	return waitFor("the editor", 10000, async () => {
		const e = await edited(page);
		return e.state === "clean" && e.text !== null ? e : null;
	});
}

// The editor's state: whether the page is editing, the bar (state:
// clean, dirty, saving, saved, read-only; base: "editing from checksum
// ..."; saveEnabled), the message under it (msg, msgKind), the
// changed-on-disk note (disk, diskKind), the findings list (problems:
// [{line, severity, text}]), the findings marked in the text (diagnostics:
// [{line, severity, message}]), its text, whether it may be typed into
// (editable), and the merge (merge: null or {summary, conflicts (left),
// disk (the line naming the disk's version), note, shown (the review's
// text, lines without their breaks), changes: [{kind, line, text}] (the
// list of what merged), saveEnabled}).
export function edited(page) {
	return page.evaluate(async () => {
		const cm = await import(new URL("vendor/codemirror.js", document.baseURI).href);
		const $ = (id) => document.getElementById(id);
		const viewOf = (el) => (el ? cm.EditorView.findFromDOM(el) : null);
		const view = viewOf(document.querySelector("#editor .cm-editor"));
		const diagnostics = [];
		if (view)
			cm.forEachDiagnostic(view.state, (d, from) => diagnostics.push({
				line: view.state.doc.lineAt(from).number, severity: d.severity, message: d.message,
			}));
		const review = viewOf(document.querySelector("#m-review .cm-editor"));
		const shownText = (el) => (el.hidden ? "" : el.innerText.replace(/\s+/g, " ").trim());
		return {
			editing: $("main").dataset.editing === "on",
			state: $("e-state").dataset.state,
			base: $("e-base").textContent,
			msg: shownText($("e-msg")),
			msgKind: $("e-msg").hidden ? "" : $("e-msg").dataset.kind,
			disk: shownText($("e-disk")),
			diskKind: $("e-disk").hidden ? "" : $("e-disk").dataset.disk,
			problems: [...$("problems").querySelectorAll("li")].map((li) => ({
				line: Number(li.dataset.line), severity: li.dataset.severity,
				text: li.textContent.replace(/\s+/g, " ").trim(),
			})),
			diagnostics,
			text: view ? view.state.sliceDoc() : null,
			editable: view ? view.contentDOM.contentEditable === "true" : false,
			saveEnabled: !$("e-save").disabled,
			merge: $("merge").hidden || !review ? null : {
				summary: $("m-summary").textContent,
				conflicts: Number($("m-summary").dataset.conflicts),
				disk: $("m-disk").textContent,
				note: shownText($("m-note")),
				shown: review.state.sliceDoc(),
				changes: [...$("m-changes").querySelectorAll("li")].map((li) => ({
					kind: li.dataset.kind, line: Number(li.dataset.line),
					text: li.querySelector("span").textContent,
				})),
				saveEnabled: !$("m-save").disabled,
			},
		};
	});
}

// Types text at the end of line (from 1) of the editor, with the keys a
// person uses to get there.
export async function typeAtEnd(page, line, text) {
	await page.click("#editor .cm-content");
	await page.keyboard.press("Control+Home");
	for (let i = 1; i < line; i++)
		await page.keyboard.press("ArrowDown");
	await page.keyboard.press("End");
	await page.keyboard.type(text);
}

// Waits until the editor's state is one of states (a string or a list);
// returns what edited() says then.
export function waitEdit(page, states, ms = 10000) {
	const want = [].concat(states);
	return waitFor(`editor ${want.join(" or ")}`, ms, async () => {
		const e = await edited(page);
		return want.includes(e.state) ? e : null;
	});
}

// The characters of the text of the elements that match selector which
// the browser draws as a missing glyph (a box: no installed font has
// them), as {char, text}. A character counts as missing when it is drawn
// exactly as U+10FFFD (a private-use character no font has), in the
// element's font.
export function missingGlyphs(page, selector) {
	return page.evaluate((sel) => {
		const canvas = document.createElement("canvas");
		canvas.width = canvas.height = 64;
		const g = canvas.getContext("2d", { willReadFrequently: true });
		const draw = (ch, font) => {
			g.clearRect(0, 0, 64, 64);
			g.font = font;
			g.fillText(ch, 8, 40);
			return g.getImageData(0, 0, 64, 64).data.join();
		};
		const found = [];
		for (const el of document.querySelectorAll(sel)) {
			const cs = getComputedStyle(el);
			const font = `${cs.fontSize} ${cs.fontFamily}`;
			const box = draw("\u{10FFFD}", font);
			const texts = [el.textContent, ...["::before", "::after"].map((p) =>
			    getComputedStyle(el, p).content.replace(/^"(.*)"$/, "$1"))];
			for (const t of texts)
				for (const ch of t)
					if (ch.codePointAt(0) > 0x7e && draw(ch, font) === box)
						found.push({ char: ch, text: t });
		}
		return found;
	}, selector);
}
