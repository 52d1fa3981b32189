// The file page: a person picks a proposal and a file; the page shows the
// file with its metadata and keeps it up to date as it is saved (context.py
// and other files: the whole file again, changed lines marked) or grows
// (logs: the new bytes appended, following the end). A file that is not a
// log can be edited and saved on the page (editor.js), and one whose
// versions are kept has a History panel (history.js, imported when opened).
//
// The proposal and file are in the address (#proposal=1111&file=context.py;
// &live=poll forces the long-poll fallback instead of /events).

import { createApi, decodeText } from "./api.js";
import { changedLines } from "./diff.js";
import { FileEditor } from "./editor.js";
import { Highlighter } from "./highlight.js";
import { LineView } from "./view.js";
import { Watcher } from "./watch.js";

const API_BASE = document.querySelector('meta[name="filehandler-api"]')?.content || "./filehandler/";
const TAIL_CHUNK = 256 * 1024;		// bytes per /file_tail request
const RETRY_MS = 1000;			// while the service is unavailable
const MISSING_RETRY_MS = 2000;		// while the file does not exist
const ERROR_RETRY_MS = 5000;		// after an unexpected answer

const $ = (id) => document.getElementById(id);
const api = createApi(API_BASE, { onUser: showUser });
const highlighter = new Highlighter("highlight-worker.js");
const view = new LineView($("viewport"));

// The files the server refused this user to save (a 403), by
// "proposal/file", with its reason: no Edit for them while the page is open.
const readOnlyFiles = new Map();

let historyModule = null;

// The History panel's module, imported once, when first opened.
function loadHistory() {
	if (!historyModule)
		historyModule = import("./history.js");
	return historyModule;
}

const isLog = (file) => /\.(log|out)$/.test(file);
const languageOf = (file) => (/\.py$/.test(file) ? "python" : null);
const nextFrame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));

function splitLines(text) {
	const lines = text.split("\n");
	if (lines[lines.length - 1] === "")
		lines.pop();
	return lines;
}

function logLevel(line) {
	if (/\b(ERROR|CRITICAL|FATAL)\b|Traceback/.test(line))
		return "lvl-error";
	if (/\bWARN(ING)?\b/.test(line))
		return "lvl-warn";
	return "";
}

// One open file: its content, its state and its watcher, until another
// file is opened.
class FileSession {
	constructor(proposal, file, { forcePoll }) {
		this.proposal = proposal;
		this.file = file;
		this.tail = isLog(file);
		this.language = languageOf(file);
		this.lines = [];
		this.text = null;
		this.html = null;
		this.loaded = false;
		this.checksum = null;
		this.size = null;
		this.mtime = null;
		this.encoding = null;
		this.offset = 0;
		this.generation = null;
		this.partial = false;
		this.status = "loading";
		this.detail = "";
		this.live = null;
		this.lastChange = null;
		this.closed = false;
		this.busy = null;
		this.again = false;
		this.timer = 0;
		this.hlSeq = 0;
		this.streamBroken = false;
		this.editor = null;
		this.editorReady = null;
		// Whether the file's versions are kept (its History panel), once
		// known; the panel, once opened.
		this.kept = null;
		this.firstHistory = null;
		this.history = null;
		// Why this user may not save the file, once the server said so.
		this.readOnly = readOnlyFiles.get(`${proposal}/${file}`) || null;
		this.ac = new AbortController();
		this.watcher = new Watcher(api, proposal, file, {
			changed: (ev) => {
				this.noteEvent(ev);
				return this.refresh();
			},
			deleted: () => this.gone(),
			unavailable: () => this.setStatus("unavailable"),
			available: () => this.refresh(),
			live: (how) => {
				this.live = how;
				show(this);
			},
			broken: () => {
				this.streamBroken = true;
				return this.refresh();
			},
		}, { forcePoll });
	}

	start() {
		view.reset({ follow: this.tail, classify: this.tail ? logLevel : null });
		show(this);
		this.refresh();
	}

	close() {
		this.closed = true;
		this.ac.abort();
		this.watcher.stop();
		clearTimeout(this.timer);
		this.stopEditing();
		if (this.history)
			this.history.destroy();
		this.history = null;
	}

	// The file is gone (an event, or a 404).
	gone() {
		this.setStatus(this.loaded ? "deleted" : "file-not-found");
		if (this.editor)
			this.editor.diskChanged({ deleted: true });
	}

	// Whether the page offers to edit the file: text that is not a log,
	// shown as it is, by a user the server has not refused.
	get editable() {
		return !this.tail && this.loaded && this.status === "ok" && this.encoding === "utf-8" &&
		    !this.readOnly;
	}

	startEditing() {
		if (this.editor || !this.editable)
			return;
		this.editor = new FileEditor(api, this.proposal, this.file, {
			saved: (text, answer) => this.adopt(text, answer),
			readOnly: (detail) => {
				this.readOnly = detail;
				readOnlyFiles.set(`${this.proposal}/${this.file}`, detail);
				show(this);
			},
			closed: () => this.stopEditing(),
		});
		this.editor.disk = { text: this.text, checksum: this.checksum, mtime: this.mtime };
		if (this.history)
			this.history.showFile();
		show(this);
		this.editorReady = this.editor.open(this.text, this.checksum, this.language);
	}

	// Why a kept version may not be restored here, or null.
	mayRestore() {
		if (this.readOnly)
			return `the server does not let you save ${this.file}: ${this.readOnly}`;
		if (this.editor && this.editor.readOnly)
			return `the server does not let you save ${this.file}`;
		if (!this.editor && !this.editable)
			return this.encoding !== "utf-8" ? `${this.file} is not UTF-8 text` :
			    `${this.file} cannot be saved while it is not shown`;
		return null;
	}

	// Saves text, a kept version's, through the editor (opened for it):
	// a save like the person's own, what naming it in its messages.
	async restore(text, what) {
		if (!this.editor)
			this.startEditing();
		const editor = this.editor;
		if (!editor)
			return;
		await this.editorReady;
		if (this.editor === editor)
			editor.restore(text, what);
	}

	// Learns once whether the file's versions are kept: the History
	// button is shown only then.
	async learnKept() {
		if (this.kept !== null || this.tail)
			return;
		this.kept = false;
		try {
			const body = await api.history(this.proposal, this.file, this.ac.signal);
			this.kept = body.kept === true;
			this.firstHistory = body;
		} catch {
			this.kept = false;
		}
		if (!this.closed)
			show(this);
	}

	async toggleHistory() {
		if (this.history && this.history.isOpen) {
			this.history.close();
			return;
		}
		if (!this.history) {
			const m = await loadHistory();
			if (this.closed || this.history)
				return;
			this.history = new m.HistoryPanel(api, this);
		}
		this.history.open(this.firstHistory);
		this.firstHistory = null;
		show(this);
	}

	// The History panel was closed.
	panelClosed() {
		show(this);
		$("history-open").focus();
	}

	editorDirty() {
		return Boolean(this.editor && this.editor.dirty);
	}

	stopEditing() {
		if (!this.editor)
			return;
		this.editor.destroy();
		this.editor = null;
		if (!this.closed)
			show(this);
	}

	setStatus(status, detail = "") {
		this.status = status;
		this.detail = detail;
		show(this);
	}

	// An event's metadata, ahead of the content it announces.
	noteEvent(ev) {
		if (ev && typeof ev.mtime === "number") {
			this.mtime = ev.mtime;
			this.size = ev.size;
		}
	}

	// Fetches what is new; one fetch at a time, and one more when asked
	// again meanwhile. Resolves when the page shows it.
	refresh() {
		if (this.closed)
			return Promise.resolve();
		if (this.busy) {
			this.again = true;
			return this.busy;
		}
		this.busy = (async () => {
			do {
				this.again = false;
				await this.fetchOnce();
			} while (this.again && !this.closed);
			this.busy = null;
		})();
		return this.busy;
	}

	retryIn(ms) {
		clearTimeout(this.timer);
		this.timer = setTimeout(() => this.refresh(), ms);
	}

	async fetchOnce() {
		clearTimeout(this.timer);
		try {
			if (this.tail)
				await this.fetchTail();
			else
				await this.fetchContent();
		} catch (e) {
			if (!this.closed && e.name !== "AbortError")
				this.failed(e);
			return;
		}
		if (this.closed)
			return;
		this.setStatus("ok");
		this.learnKept();
		if (this.streamBroken) {
			// The file answers, the stream did not: try the stream
			// again in a moment (after a few tries, long-polls).
			this.streamBroken = false;
			this.watcher.streamRefusedWhileFileAnswers();
			this.timer = setTimeout(() => this.watch(), RETRY_MS);
		} else {
			this.watch();
		}
	}

	watch() {
		if (!this.closed)
			this.watcher.start(this.checksum, () => this.checksum);
	}

	failed(e) {
		this.streamBroken = false;
		switch (e.kind) {
		case "unavailable":
			this.setStatus("unavailable", e.detail);
			this.retryIn(RETRY_MS);
			break;
		case "file":
			this.gone();
			// An open stream says when the file is back.
			if (!this.watcher.running)
				this.retryIn(MISSING_RETRY_MS);
			break;
		case "proposal":
		case "login":
		case "forbidden":
		case "too-large":
			this.watcher.stop();
			this.setStatus(e.kind === "proposal" ? "proposal-not-found" : e.kind, e.detail);
			break;
		default:
			this.setStatus("error", e.detail);
			this.retryIn(ERROR_RETRY_MS);
		}
	}

	keep(body) {
		this.checksum = body.checksum;
		this.size = body.size;
		this.mtime = body.mtime;
		this.encoding = body.encoding;
	}

	async fetchContent() {
		const body = await api.content(this.proposal, this.file, this.loaded ? this.checksum : null,
		    this.ac.signal);
		if (body === null || this.closed)
			return;		// 304: what the page shows is current
		this.setText(decodeText(body.content, body.encoding), body);
		if (this.editor)
			this.editor.diskChanged({ text: this.text, checksum: this.checksum, mtime: this.mtime });
	}

	// The editor saved text: the file's content now, with the save's
	// answer as its metadata.
	adopt(text, answer) {
		if (this.closed)
			return;
		this.setText(text, { ...answer, encoding: "utf-8" });
		this.setStatus("ok");
	}

	// Shows raw, the file's text, and body's metadata (checksum, size,
	// mtime, encoding); marks what changed since the last text.
	setText(raw, body) {
		const text = raw.replace(/\r\n/g, "\n");
		const lines = splitLines(text);
		const old = this.lines;
		const diff = this.loaded ? changedLines(old, lines) : null;
		let html = null;
		if (diff && this.html) {
			// The unchanged head and tail keep their colours until the
			// new highlighting comes.
			html = new Array(lines.length).fill(null);
			for (let i = 0; i < diff.head; i++)
				html[i] = this.html[i];
			for (let i = 0; i < diff.tail; i++)
				html[lines.length - 1 - i] = this.html[old.length - 1 - i];
		}
		this.keep(body);
		this.text = raw;
		this.lines = lines;
		this.html = html;
		this.loaded = true;
		view.setLines(lines, { html, changed: diff ? diff.ranges : [] });
		if (diff)
			this.changed(diff.ranges, diff.removed, diff.first);
		if (this.language)
			this.highlight(text, lines.length);
		if (this.history)
			this.history.fileChanged();
	}

	async highlight(text, n) {
		const seq = ++this.hlSeq;
		const html = await highlighter.highlight(text, this.language);
		if (this.closed || seq !== this.hlSeq || !html)
			return;
		this.html = html.slice(0, n);
		view.setHtml(this.html);
	}

	async fetchTail() {
		for (;;) {
			const body = await api.tail(this.proposal, this.file, {
				offset: this.offset, generation: this.generation, maxBytes: TAIL_CHUNK,
			}, this.ac.signal);
			if (this.closed)
				return;
			const first = !this.loaded || body.reset;
			if (body.reset) {
				this.lines = [];
				this.partial = false;
				view.setLines([], {});
			}
			this.append(decodeText(body.data, body.encoding), !first);
			this.keep(body);
			this.offset = body.next_offset;
			this.generation = body.generation;
			this.loaded = true;
			if (body.next_offset >= body.size || body.next_offset === body.offset)
				return;
			// A big log comes in chunks; the page paints between them.
			show(this);
			await nextFrame();
		}
	}

	// Appends a log's new text; a line without its newline yet is
	// completed by the next text.
	append(text, mark) {
		if (text === "")
			return;
		const parts = text.split("\n");
		const complete = parts[parts.length - 1] === "";
		if (complete)
			parts.pop();
		let from = this.lines.length, i = 0;
		if (this.partial && from > 0 && parts.length > 0) {
			this.lines[from - 1] += parts[0];
			from--;
			i = 1;
		}
		for (; i < parts.length; i++)
			this.lines.push(parts[i]);
		this.partial = !complete;
		view.appended(this.lines, from, { mark });
		if (mark && this.lines.length > from)
			this.changed([[from, this.lines.length]], 0, from);
	}

	changed(ranges, removed, first) {
		this.lastChange = { ranges, removed, first, at: Date.now() };
	}
}

// The page around the session.

const STATES = {
	idle: "",
	loading: "Loading…",
	ok: "",
	"proposal-not-found": (s) => `Proposal ${s.proposal} not found: this server has no DAMNIT folder for it.`,
	"file-not-found": (s) => `${s.file} does not exist in proposal ${s.proposal}. ` +
	    "The page looks again every few seconds and shows it once it is there.",
	deleted: (s) => `${s.file} was deleted. Its last version is shown; ` +
	    "it comes back by itself when the file is created again.",
	unavailable: () => "Service unavailable — retrying. " +
	    "The file watcher does not answer; the page reconnects by itself.",
	login: () => "You are not logged in, or your login has expired. " +
	    "Reload the page to log in again.",
	// The detail names the file, the proposal and, for access, the user.
	forbidden: (s) => `Not shown: ${s.detail}.`,
	"too-large": (s) => `${s.file} is larger than the server serves (${s.detail}).`,
	error: (s) => `Unexpected answer from the server: ${s.detail}. Retrying.`,
};

let session = null;

// The user the web server logged in, in the page's header.
function showUser(name) {
	const el = $("user");
	if (el.textContent !== name)
		el.textContent = name;
	el.parentElement.hidden = false;
}

function formatSize(n) {
	if (n == null)
		return "—";
	const exact = `${n.toLocaleString("en")} bytes`;
	if (n < 1024)
		return exact;
	const units = ["KiB", "MiB", "GiB"];
	let v = n / 1024, u = 0;
	while (v >= 1024 && u < units.length - 1) {
		v /= 1024;
		u++;
	}
	return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]} (${exact})`;
}

function ago(seconds) {
	if (seconds < 1)
		return "just now";
	if (seconds < 60)
		return `${Math.floor(seconds)} s ago`;
	if (seconds < 3600)
		return `${Math.floor(seconds / 60)} min ago`;
	if (seconds < 86400)
		return `${Math.floor(seconds / 3600)} h ago`;
	return `${Math.floor(seconds / 86400)} days ago`;
}

function rangeText(ranges) {
	const [from, to] = ranges[0];
	const first = to - from > 1 ? `lines ${from + 1}–${to}` : `line ${from + 1}`;
	return ranges.length > 1 ? `${first} and ${ranges.length - 1} more` : first;
}

// Shows the session's state; called whenever it changes.
function show(s) {
	const main = $("main");
	main.dataset.state = s ? s.status : "idle";
	main.dataset.mode = s ? (s.tail ? "tail" : "content") : "";
	main.dataset.editing = s && s.editor ? "on" : "";
	$("edit").hidden = !(s && s.editable && !s.editor);
	const hb = $("history-open");
	hb.hidden = !(s && s.kept && !s.tail && s.loaded);
	hb.setAttribute("aria-expanded", String(Boolean(s && s.history && s.history.isOpen)));
	const ro = $("m-readonly");
	ro.hidden = !(s && s.readOnly && !s.editor);
	ro.textContent = s && s.readOnly ? "read-only for you" : "";
	ro.title = s && s.readOnly ? `The server does not let you save this file: ${s.readOnly}` : "";
	const msg = s ? STATES[s.status] : "";
	const banner = $("banner");
	banner.textContent = typeof msg === "function" ? msg(s) : msg;
	banner.hidden = banner.textContent === "";
	if (!s)
		return;
	document.title = `${s.file} · ${s.proposal} — DAMNIT files`;
	$("m-file").textContent = `${s.file}`;
	$("m-proposal").textContent = `proposal ${s.proposal}`;
	$("m-size").textContent = formatSize(s.size);
	$("m-checksum").textContent = s.checksum || "—";
	$("m-lines").textContent = s.loaded ? s.lines.length.toLocaleString("en") : "—";
	$("m-kind").textContent = s.tail ? "log: new lines appended, follows the end" :
	    s.language ? "Python, highlighted" : "text";
	$("m-encoding").hidden = s.encoding !== "base64";
	const live = s.status === "ok" ? s.live : null;
	const waiting = s.live && (s.status === "deleted" || s.status === "file-not-found");
	const badge = $("m-live");
	badge.dataset.live = live || (waiting ? "waiting" : "off");
	badge.textContent = live === "events" ? "Live" : live === "long-poll" ? "Live (long-poll)" :
	    waiting ? "Waiting for the file" : s.status === "unavailable" ? "Reconnecting…" : "Not live";
	badge.title = live === "events" ? "Changes arrive through /events (server-sent events)" :
	    live === "long-poll" ? "Changes arrive through long-polls of /has_new_checksum" :
	    waiting ? "Watching for the file to be created" : "Changes are not being followed right now";
	$("empty").hidden = !(s.loaded && s.lines.length === 0 && s.status === "ok");
	tick();
}

// The parts that age: "modified 12 s ago", "last change ...".
function tick() {
	const s = session;
	if (!s)
		return;
	const m = $("m-modified");
	if (s.mtime != null) {
		m.textContent = ago(Date.now() / 1000 - s.mtime);
		m.title = new Date(s.mtime * 1000).toLocaleString();
	} else {
		m.textContent = "—";
		m.title = "";
	}
	const c = $("changes");
	const ch = s.lastChange;
	if (ch && (ch.ranges.length || ch.removed)) {
		const what = ch.ranges.length ? `${rangeText(ch.ranges)} ${s.tail ? "added" : "changed"}` :
		    `${ch.removed} line${ch.removed > 1 ? "s" : ""} removed`;
		c.textContent = `${what}, ${ago((Date.now() - ch.at) / 1000)}`;
		c.hidden = false;
	} else {
		c.hidden = true;
	}
}

function readHash() {
	const q = new URLSearchParams(location.hash.slice(1));
	return {
		proposal: (q.get("proposal") || "").trim(),
		file: (q.get("file") || "context.py").trim(),
		forcePoll: q.get("live") === "poll",
	};
}

// Whether the page may leave the open file: not while its editor holds
// unsaved text (the editor says so).
function mayLeave() {
	if (!session || !session.editor || !session.editor.dirty)
		return true;
	session.editor.refuseLeave();
	return false;
}

let shownHash = location.hash;

function open() {
	shownHash = location.hash;
	const { proposal, file, forcePoll } = readHash();
	$("proposal").value = proposal;
	$("file").value = file;
	if (session)
		session.close();
	session = null;
	if (!/^[0-9]{1,6}$/.test(proposal)) {
		$("main").dataset.state = "idle";
		$("banner").hidden = true;
		return;
	}
	localStorage.setItem("filehandler.proposal", proposal);
	session = new FileSession(proposal, file, { forcePoll });
	session.start();
}

$("pick").addEventListener("submit", (e) => {
	e.preventDefault();
	if (!mayLeave())
		return;
	const q = new URLSearchParams(location.hash.slice(1));
	q.set("proposal", $("proposal").value.trim());
	q.set("file", $("file").value.trim() || "context.py");
	const hash = "#" + q.toString();
	if (location.hash === hash)
		open();
	else
		location.hash = hash;
});

$("changes").addEventListener("click", () => {
	if (session && session.lastChange && session.lastChange.first >= 0)
		view.scrollToLine(session.lastChange.first);
});

$("jump").addEventListener("click", () => view.scrollToEnd());
view.onUnseen = (n) => {
	$("jump").hidden = n === 0;
	$("jump").textContent = `↓ ${n.toLocaleString("en")} new line${n > 1 ? "s" : ""}`;
};

$("edit").addEventListener("click", () => {
	if (session)
		session.startEditing();
});

$("history-open").addEventListener("click", () => {
	if (session)
		session.toggleHistory();
});

window.addEventListener("hashchange", () => {
	if (location.hash === shownHash)
		return;
	if (!mayLeave()) {
		history.replaceState(null, "", shownHash);
		return;
	}
	open();
});
// Closing or reloading the page with unsaved text: the browser asks.
window.addEventListener("beforeunload", (e) => {
	if (session && session.editor && session.editor.dirty)
		e.preventDefault();
});
setInterval(tick, 1000);

if (!location.hash) {
	const last = localStorage.getItem("filehandler.proposal");
	if (last)
		history.replaceState(null, "", `#proposal=${encodeURIComponent(last)}&file=context.py`);
}
open();
