// The History panel (DESIGN.md section 9), beside the file: the versions
// kept of it (/file_history), newest first, who saved each and when; a
// version picked shows its text, read-only and highlighted as the editor
// does, or its differences from the current file or from the version
// before it; Restore saves its text through the editor, as any save
// (If-Match, the check, the merge of a 412). Imported by app.js when the
// panel is first opened; CodeMirror when a version is first shown.

import { decodeText } from "./api.js";
import { highlightStyle, loadCodeMirror, theme } from "./editor.js";
import { diffIndices } from "./vendor/diff3.js";
import { el, plural } from "./dom.js";

const CONTEXT = 3;		// unchanged lines shown around a difference
const REFRESH_MS = 200;		// changes closer than this: the list is read once
const TICK_MS = 15000;		// "3 min ago" ages

const $ = (id) => document.getElementById(id);



function shortSize(n) {
	return n < 1024 ? plural(n, "byte") : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` :
	    `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

// Who made a version, in words.
export function who(v) {
	if (v.source === "disk")
		return "changed on disk";
	return v.user || "saved without a login";
}

// When, in words: "just now", "3 min ago", "today 14:02", "yesterday
// 14:02", "Tue 14:02", "12 Jan 14:02", "12 Jan 2025".
export function when(time, now = Date.now() / 1000) {
	const s = now - time;
	if (s < 60)
		return "just now";
	if (s < 3600)
		return `${Math.floor(s / 60)} min ago`;
	const d = new Date(time * 1000), today = new Date(now * 1000);
	const hm = d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", hour12: false });
	const midnight = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
	const days = Math.round((midnight(today) - midnight(d)) / 86400000);
	if (days <= 0)
		return `today ${hm}`;
	if (days === 1)
		return `yesterday ${hm}`;
	if (days < 7)
		return `${d.toLocaleDateString("en-GB", { weekday: "short" })} ${hm}`;
	const day = d.toLocaleDateString("en-GB", { day: "numeric", month: "short" });
	return d.getFullYear() === today.getFullYear() ? `${day} ${hm}` : `${day} ${d.getFullYear()}`;
}

function splitLines(text) {
	const lines = text.split("\n").map((l) => l.replace(/\r$/, ""));
	if (lines[lines.length - 1] === "")
		lines.pop();
	return lines;
}

// The differences that turn the lines a into the lines b, as rows of a
// unified view: { kind: "same" | "del" | "add", text, no (the line of b, or
// null), skipped (unchanged lines left out before this row) }, and after,
// the unchanged lines left out at the end. Unchanged stretches keep
// CONTEXT lines beside each difference.
export function diffRows(a, b) {
	const rows = [];
	let skipped = 0, added = 0, removed = 0;
	const push = (row) => {
		rows.push({ ...row, skipped });
		skipped = 0;
	};
	// n unchanged lines from a[ai], b[bi].
	const same = (ai, bi, n, first, last) => {
		const head = first ? 0 : Math.min(CONTEXT, n);
		const tail = last ? 0 : Math.min(CONTEXT, n - head);
		const drop = n - head - tail;
		const keep = (i) => push({ kind: "same", text: b[bi + i], no: bi + i + 1 });
		if (drop <= 1) {
			for (let i = 0; i < n; i++)
				keep(i);
			return;
		}
		for (let i = 0; i < head; i++)
			keep(i);
		skipped = drop;
		for (let i = n - tail; i < n; i++)
			keep(i);
	};
	let ai = 0, bi = 0;
	for (const h of diffIndices(a, b)) {
		const [as, al] = h.buffer1, [bs, bl] = h.buffer2;
		same(ai, bi, as - ai, ai === 0 && bi === 0, false);
		for (let i = 0; i < al; i++)
			push({ kind: "del", text: a[as + i], no: null });
		for (let i = 0; i < bl; i++)
			push({ kind: "add", text: b[bs + i], no: bs + i + 1 });
		removed += al;
		added += bl;
		ai = as + al;
		bi = bs + bl;
	}
	same(ai, bi, a.length - ai, ai === 0 && bi === 0, true);
	return { rows, after: skipped, added, removed };
}

let SkipWidget = null;

// Unchanged lines left out: a bar of plain words (style.css draws it).
function defineWidgets(cm) {
	if (SkipWidget)
		return;
	SkipWidget = class extends cm.WidgetType {
		constructor(n) {
			super();
			this.n = n;
		}

		eq(other) {
			return other.n === this.n;
		}

		toDOM() {
			return el("div", "hd-skip", `${plural(this.n, "unchanged line")}`);
		}

		get estimatedHeight() {
			return 24;
		}
	};
}

export class HistoryPanel {
	// api: the page's API. page: the open file, as app.js keeps it:
	//   proposal, file, language; text, checksum, encoding (the file now);
	//   mayRestore(): why a version may not be restored, or null;
	//   restore(text, what): saves text as the file's content through the
	//   editor (what names it in the editor's messages).
	constructor(api, page) {
		this.api = api;
		this.page = page;
		this.versions = [];
		this.kept = true;
		this.selected = null;		// the checksum and time of the version shown
		this.mode = "text";
		this.texts = new Map();		// checksum -> text (or a promise of it)
		this.view = null;
		this.closed = false;
		this.timer = 0;
		this.seq = 0;			// of the list's reads
		this.renderSeq = 0;		// of the version's views
		this.ac = new AbortController();
		this.listeners = [];
		this.on($("h-close"), "click", () => this.close());
		this.on($("v-close"), "click", () => this.showFile());
		this.on($("v-restore"), "click", () => this.askRestore());
		for (const b of document.querySelectorAll("#version-view .v-modes button"))
			this.on(b, "click", () => this.setMode(b.dataset.mode));
		this.on($("h-list"), "keydown", (e) => this.listKey(e));
		this.on($("version-view"), "keydown", (e) => {
			if (e.key === "Escape" && !e.defaultPrevented)
				this.showFile();
		});
		this.tick = setInterval(() => this.ageTimes(), TICK_MS);
	}

	on(target, type, fn) {
		target.addEventListener(type, fn);
		this.listeners.push([target, type, fn]);
	}

	get isOpen() {
		return !$("history").hidden;
	}

	// Shows the panel; first: a /file_history answer the page has already.
	// Focus goes to the newest version once the list is read.
	async open(first) {
		$("history").hidden = false;
		if (first)
			this.showList(first);
		await this.refresh();
		if (this.closed || $("history").contains(document.activeElement))
			return;
		const list = $("h-list");
		(list.querySelector("button[aria-pressed='true']") || list.querySelector("button") ||
		    $("h-close")).focus();
	}

	// Hides the panel (and a version shown); the page shows the file.
	close() {
		this.showFile();
		$("history").hidden = true;
		if (this.page.panelClosed)
			this.page.panelClosed();
	}

	// Ends the panel: another file is opened.
	destroy() {
		this.closed = true;
		this.ac.abort();
		clearTimeout(this.timer);
		clearInterval(this.tick);
		for (const [t, type, fn] of this.listeners)
			t.removeEventListener(type, fn);
		this.showFile();
		$("history").hidden = true;
		$("h-list").replaceChildren();
		$("h-status").textContent = "";
	}

	// The file changed (a save, a change on disk): the list is read again,
	// and a comparison with the current file redrawn.
	fileChanged() {
		if (this.closed || !this.isOpen)
			return;
		clearTimeout(this.timer);
		this.timer = setTimeout(() => this.refresh(), REFRESH_MS);
		if (this.selected && this.mode === "current")
			this.render();
	}

	async refresh() {
		const seq = ++this.seq;
		let body;
		try {
			body = await this.api.history(this.page.proposal, this.page.file, this.ac.signal);
		} catch (e) {
			if (this.closed || e.name === "AbortError" || seq !== this.seq)
				return;
			$("h-status").textContent = `The versions could not be read: ${e.detail}.`;
			return;
		}
		if (this.closed || seq !== this.seq)
			return;
		this.showList(body);
	}

	showList(body) {
		this.kept = body.kept;
		this.versions = Array.isArray(body.versions) ? body.versions : [];
		const status = $("h-status");
		status.textContent = !body.kept ? `The versions of ${this.page.file} are not kept here.` :
		    this.versions.length === 0 ? "No version is kept yet." :
		    `${plural(this.versions.length, "version")} kept, newest first.`;
		const list = $("h-list");
		const focused = document.activeElement && list.contains(document.activeElement) ?
		    document.activeElement.dataset.key : null;
		list.replaceChildren();
		this.versions.forEach((v, i) => {
			const li = el("li");
			const b = el("button", "h-item");
			b.type = "button";
			b.dataset.key = keyOf(v);
			b.dataset.checksum = v.checksum;
			b.dataset.source = v.source;
			b.setAttribute("aria-pressed", String(this.isSelected(v)));
			const line = el("span", "h-who");
			line.append(el("span", "h-user", who(v)), ", ",
			    el("span", "h-when", when(v.time)));
			line.querySelector(".h-when").dataset.time = String(v.time);
			const meta = el("span", "h-meta", shortSize(v.size));
			meta.append(" ", el("span", "mono", v.checksum));
			if (i === 0) {
				const current = v.checksum === this.page.checksum;
				const badge = el("span", "h-badge", current ? "current" : "newest");
				badge.dataset.current = String(current);
				meta.append(" ", badge);
			}
			b.append(line, meta);
			b.title = `${who(v)}, ${new Date(v.time * 1000).toLocaleString()}: ` +
			    `${v.source === "save" ? "saved" : "seen on disk"}, ${plural(v.size, "byte")}, ` +
			    `checksum ${v.checksum}`;
			b.addEventListener("click", () => this.select(v));
			li.append(b);
			list.append(li);
			if (focused === b.dataset.key)
				b.focus();
		});
		if (this.selected)
			this.renderBar();
	}

	isSelected(v) {
		return this.selected !== null && keyOf(v) === keyOf(this.selected);
	}

	ageTimes() {
		for (const s of document.querySelectorAll("#h-list .h-when"))
			s.textContent = when(Number(s.dataset.time));
		if (this.selected)
			this.renderBar();
	}

	// Up and Down move between the versions, Home and End to the ends.
	listKey(e) {
		const items = [...$("h-list").querySelectorAll("button")];
		const at = items.indexOf(document.activeElement);
		if (at < 0)
			return;
		const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: items.length - 1 }[e.key];
		if (to === undefined || to < 0 || to >= items.length)
			return;
		e.preventDefault();
		items[to].focus();
	}

	// The text of version v (fetched once).
	textOf(v) {
		if (!this.texts.has(v.checksum)) {
			const p = this.api.version(this.page.proposal, this.page.file, v.checksum, this.ac.signal)
			    .then((body) => ({ text: decodeText(body.content, body.encoding),
				encoding: body.encoding }));
			p.catch(() => this.texts.delete(v.checksum));
			this.texts.set(v.checksum, p);
		}
		return this.texts.get(v.checksum);
	}

	// The version kept before v, or null.
	previousOf(v) {
		const i = this.versions.findIndex((x) => keyOf(x) === keyOf(v));
		return i >= 0 && i + 1 < this.versions.length ? this.versions[i + 1] : null;
	}

	select(v) {
		this.selected = v;
		for (const b of $("h-list").querySelectorAll("button"))
			b.setAttribute("aria-pressed", String(b.dataset.key === keyOf(v)));
		$("main").dataset.version = "on";
		this.message(null);
		this.render();
	}

	setMode(mode) {
		this.mode = mode;
		for (const b of document.querySelectorAll("#version-view .v-modes button"))
			b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
		this.render();
	}

	// Back to the file (the live view, or the editor).
	showFile() {
		this.selected = null;
		this.message(null);
		if (this.view)
			this.view.destroy();
		this.view = null;
		$("v-body").replaceChildren();
		delete $("main").dataset.version;
		for (const b of $("h-list").querySelectorAll("button"))
			b.setAttribute("aria-pressed", "false");
	}

	renderBar() {
		const v = this.selected;
		$("v-title").textContent = `${who(v)}, ${when(v.time)}`;
		$("v-title").title = new Date(v.time * 1000).toLocaleString();
		$("v-meta").textContent = `${v.checksum} · ${plural(v.size, "byte")}`;
		const current = v.checksum === this.page.checksum;
		const restore = $("v-restore");
		restore.hidden = current;
		const why = this.page.mayRestore();
		restore.disabled = why !== null;
		restore.title = why ? `Not offered: ${why}` : "Save this version's text as the file's new content";
	}

	// Shows the selected version as the mode says.
	async render() {
		const v = this.selected;
		if (!v)
			return;
		this.renderBar();
		const seq = ++this.renderSeq;
		const summary = $("v-summary");
		let mine, other = null, prev = null;
		try {
			const cm = loadCodeMirror();
			mine = await this.textOf(v);
			if (this.mode === "previous") {
				prev = this.previousOf(v);
				if (prev)
					other = (await this.textOf(prev)).text;
			} else if (this.mode === "current") {
				other = this.page.text;
			}
			this.cm = await cm;
		} catch (e) {
			if (this.closed || seq !== this.renderSeq || e.name === "AbortError")
				return;
			this.show(null);
			summary.hidden = false;
			summary.textContent = e.kind === "file" ?
			    "This version is no longer kept (the oldest are dropped)." :
			    `The version could not be read: ${e.detail || e.message}.`;
			return;
		}
		if (this.closed || seq !== this.renderSeq)
			return;
		if (this.mode === "text" || other === null) {
			summary.hidden = this.mode === "text" && mine.encoding === "utf-8";
			summary.textContent = mine.encoding !== "utf-8" ?
			    "Not UTF-8: shown with replacement characters." :
			    this.mode === "previous" ? "This is the oldest version kept: nothing before it to " +
			    "compare with. Its text:" : "The file is not loaded: its text:";
			this.show(this.textView(mine.text));
			return;
		}
		const d = diffRows(splitLines(other), splitLines(mine.text));
		summary.hidden = false;
		summary.replaceChildren();
		if (!d.added && !d.removed) {
			summary.textContent = this.mode === "current" ? "The same text as the current file." :
			    `The same text as the version before it (${who(prev)}, ${when(prev.time)}).`;
			this.show(this.textView(mine.text));
			return;
		}
		const [against, add, del] = this.mode === "current" ?
		    [`Against the current file (${this.page.checksum}): `, "only in this version",
			"only in the current file"] :
		    [`Against the version before it (${who(prev)}, ${when(prev.time)}): `,
			"added by this version", "removed by this version"];
		summary.append(against);
		if (d.added)
			summary.append(el("span", "hd-key hd-add", `${plural(d.added, "line")} ${add}`), " ");
		if (d.removed)
			summary.append(el("span", "hd-key hd-del", `${plural(d.removed, "line")} ${del}`));
		this.show(this.diffView(d));
	}

	show(view) {
		if (this.view)
			this.view.destroy();
		this.view = view;
		$("v-body").replaceChildren();
		if (view)
			$("v-body").append(view.dom);
	}

	extensions(labels) {
		const cm = this.cm;
		return [
			labels ? cm.lineNumbers({ formatNumber: (n) => labels[n - 1] || "" }) : cm.lineNumbers(),
			cm.highlightSpecialChars(),
			cm.syntaxHighlighting(highlightStyle(cm)),
			this.page.language === "python" ? cm.python() : [],
			theme(cm),
			cm.EditorState.readOnly.of(true),
			cm.EditorView.editable.of(false),
			// Focusable, so that the keyboard scrolls it.
			cm.EditorView.contentAttributes.of({ tabindex: "0",
			    "aria-label": `${this.page.file}, a kept version, read-only` }),
		];
	}

	textView(text) {
		const cm = this.cm;
		return new cm.EditorView({
			state: cm.EditorState.create({ doc: text, extensions: this.extensions(null) }),
		});
	}

	// The differences as one read-only text: removed and added lines
	// marked, unchanged stretches left out behind a bar; the gutter numbers
	// the lines of the version shown.
	diffView(d) {
		const cm = this.cm;
		defineWidgets(cm);
		const doc = cm.EditorState.create({ doc: d.rows.map((r) => r.text).join("\n") }).doc;
		const ranges = [];
		d.rows.forEach((r, i) => {
			const from = doc.line(i + 1).from;
			if (r.skipped)
				ranges.push(cm.Decoration.widget({ widget: new SkipWidget(r.skipped), block: true,
				    side: -1 }).range(from));
			if (r.kind !== "same")
				ranges.push(cm.Decoration.line({ class: `hd-line hd-${r.kind}`, attributes: {
				    title: r.kind === "add" ? "only in the version shown" : "not in the version shown" } })
				    .range(from));
		});
		if (d.after)
			ranges.push(cm.Decoration.widget({ widget: new SkipWidget(d.after), block: true, side: 1 })
			    .range(doc.length));
		const labels = d.rows.map((r) => (r.no === null ? "" : String(r.no)));
		return new cm.EditorView({
			state: cm.EditorState.create({ doc, extensions: [this.extensions(labels),
			    cm.EditorView.decorations.of(cm.Decoration.set(ranges, true))] }),
		});
	}

	askRestore() {
		const v = this.selected;
		const why = this.page.mayRestore();
		if (!v || why)
			return;
		const label = `${who(v)}, ${when(v.time)}`;
		const unsaved = this.page.editorDirty() ? " Your unsaved changes in the editor are replaced " +
		    "(Ctrl+Z in the editor brings them back)." : "";
		this.message("confirm", `Restore the version of ${label} (${v.checksum})? Its text is saved ` +
		    `as ${this.page.file}'s new content, checked as any save; the current text stays in the ` +
		    `history.${unsaved}`, [
			button("Restore", () => this.restore(v, label), "primary"),
			button("Cancel", () => {
				this.message(null);
				$("v-restore").focus();
			}),
		]);
		$("v-msg").querySelector("button").focus();
	}

	async restore(v, label) {
		let got;
		try {
			got = await this.textOf(v);
		} catch (e) {
			this.message("error", `Not restored: the version could not be read (${e.detail}).`);
			return;
		}
		if (got.encoding !== "utf-8") {
			this.message("error", "Not restored: this version is not UTF-8 text, which the " +
			    "editor cannot save as it is.");
			return;
		}
		this.showFile();
		this.page.restore(got.text, ` the version of ${label}`);
	}

	message(kind, text = "", buttons = []) {
		const m = $("v-msg");
		m.replaceChildren();
		m.hidden = !kind;
		if (!kind) {
			delete m.dataset.kind;
			return;
		}
		m.dataset.kind = kind;
		m.append(el("span", null, text), ...buttons);
	}
}

// A version's key: its time and checksum (two versions may share bytes).
function keyOf(v) {
	return `${v.time}-${v.checksum}`;
}

function button(label, fn, className) {
	const b = el("button", className, label);
	b.type = "button";
	b.addEventListener("click", fn);
	return b;
}
