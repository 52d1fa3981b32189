// Editing a file on the page (DESIGN.md section 8): CodeMirror 6
// (vendor/codemirror.js, imported on first use) on the file's text, saved by
// PUT /file_content with If-Match of the checksum the edit started from
// (its "base"). Nothing the person typed is ever replaced without being asked:
//
//   200  the saved text becomes the base; the check's warnings are marked at
//        their lines, the save stands
//   422  the check's errors (and warnings) are marked at their lines; the file
//        is untouched, the text stays
//   412  the file changed on disk: the version the edit started from, the
//        text and the disk's are merged (merge.js, imported then), and the
//        merge is shown for review: Save merged (once every conflict is
//        picked; If-Match the disk's version merged), Overwrite (mine,
//        If-Match the same), Reload (take the disk's) or Keep editing
//   401, 403, 413, 503  said in words, the text kept; a 403 turns the editor
//        read-only
//
// A change on disk while editing (from the page's live view) is announced;
// it is taken into the editor only while the editor holds no change of the
// person's.

import { decodeText } from "./api.js";
import { textChange } from "./diff.js";
import { plural } from "./dom.js";

let codemirror = null;
let merging = null;

// The CodeMirror module, imported once (the History panel's views share it).
export function loadCodeMirror() {
	if (!codemirror)
		codemirror = import("./vendor/codemirror.js");
	return codemirror;
}

// The merge (merge.js and node-diff3), imported once, when first needed.
function loadMerge() {
	if (!merging)
		merging = import("./merge.js");
	return merging;
}

const $ = (id) => document.getElementById(id);

function formatTime(date) {
	return date.toLocaleTimeString("en-GB", { hour12: false });
}


// Python as the read-only view colours it (style.css, Prism's tokens).
export function highlightStyle(cm) {
	const t = cm.tags;
	return cm.HighlightStyle.define([
		{ tag: [t.keyword, t.controlKeyword, t.definitionKeyword, t.moduleKeyword,
		    t.operatorKeyword], color: "#cf222e" },
		{ tag: [t.string, t.special(t.string)], color: "#0a3069" },
		{ tag: t.comment, color: "#6a737d", fontStyle: "italic" },
		{ tag: t.number, color: "#0550ae" },
		{ tag: [t.bool, t.null, t.self, t.standard(t.variableName)], color: "#8250df" },
		{ tag: [t.function(t.variableName), t.function(t.definition(t.variableName)),
		    t.function(t.propertyName)], color: "#6639ba" },
		{ tag: [t.className, t.definition(t.className), t.meta], color: "#953800" },
		{ tag: [t.operator, t.punctuation, t.bracket], color: "#57606a" },
	]);
}

// The editors' look; each fills its box and scrolls inside it.
export function theme(cm) {
	return cm.EditorView.theme({
		"&": { height: "100%", fontSize: "13px", backgroundColor: "var(--panel)" },
		"&.cm-focused": { outline: "none" },
		".cm-scroller": { fontFamily: "var(--mono)", lineHeight: "20px" },
		".cm-gutters": { backgroundColor: "#f8f9fb", color: "#9aa3b2",
		    borderRight: "1px solid var(--line)" },
		".cm-activeLine": { backgroundColor: "#f3f6fb" },
		".cm-activeLineGutter": { backgroundColor: "#e8edf5", color: "var(--ink)" },
	});
}

// Where a finding of the check is in doc (a CodeMirror Text): line counts
// from 1; column, characters from 1, or null for the whole line. The range
// covers the word at the column (at least one character, the last one for
// a column past the end), within the line.
function findingRange(doc, line, column) {
	const l = doc.line(Math.min(Math.max(1, line | 0), doc.lines));
	if (column == null)
		return { from: l.from, to: l.to };
	const text = l.text;
	let off = 0;
	for (let c = 1; c < column && off < text.length; c++)
		off += text.codePointAt(off) > 0xffff ? 2 : 1;
	if (off >= text.length && text.length > 0)
		off = text.length - 1;		// past the end: the last character
	let end = off;
	while (end < text.length && /[\w.]/.test(text[end]))
		end++;
	if (end === off)
		end = Math.min(off + 1, text.length);
	return { from: l.from + off, to: l.from + end };
}

// "\r\n" when every line break of text is one, so that a save keeps them.
function lineBreakOf(text) {
	const crlf = (text.match(/\r\n/g) || []).length;
	return crlf > 0 && crlf === (text.match(/\n/g) || []).length ? "\r\n" : null;
}

export class FileEditor {
	// api: the page's API; proposal, file: what is edited. Handlers:
	//   saved(text, answer)   a save went through: the file's text is now text
	//   readOnly(detail)      the server says this user may not save
	//   closed()              the person closed the editor
	constructor(api, proposal, file, handlers) {
		this.api = api;
		this.proposal = proposal;
		this.file = file;
		this.h = handlers;
		this.cm = null;
		this.view = null;
		this.base = null;		// { checksum, doc }: what the edit started from
		this.disk = null;		// { text, checksum } or { deleted: true }
		this.saving = false;
		this.justSaved = false;
		this.readOnly = false;
		this.closed = false;
		this.sinceSend = null;		// changes made while a save is under way
		this.merge = null;		// { theirs: { text, checksum, mtime }, review } while shown
		this.saveWhat = "";		// how the messages name the text being saved
		this.superseded = null;		// the disk's checksum a save replaced
		this.problems = [];
		// Ctrl+S outside the editor's text too (the editor's own keymap
		// has it inside), instead of the browser's "save page".
		this.onKey = (e) => {
			if (!e.defaultPrevented && (e.ctrlKey || e.metaKey) && !e.altKey &&
			    e.key.toLowerCase() === "s") {
				e.preventDefault();
				this.save();
			}
		};
		this.buttons = [];
	}

	// Whether the editor holds text that is not saved.
	get dirty() {
		return this.view !== null && this.base !== null && !this.view.state.doc.eq(this.base.doc);
	}

	// Opens the editor on text, the file's content whose checksum is
	// checksum; language "python" or null.
	async open(text, checksum, language) {
		this.render();
		const cm = await loadCodeMirror();
		if (this.closed)
			return;
		this.cm = cm;
		this.editable = new cm.Compartment();
		const lineBreak = lineBreakOf(text);
		const state = cm.EditorState.create({
			doc: text,
			extensions: [
				cm.lineNumbers(),
				cm.highlightActiveLineGutter(),
				cm.highlightSpecialChars(),
				cm.history(),
				cm.foldGutter(),
				cm.drawSelection(),
				cm.dropCursor(),
				cm.EditorState.allowMultipleSelections.of(true),
				cm.indentOnInput(),
				cm.indentUnit.of("    "),
				cm.EditorState.tabSize.of(4),
				cm.syntaxHighlighting(highlightStyle(cm)),
				cm.bracketMatching(),
				cm.closeBrackets(),
				cm.rectangularSelection(),
				cm.crosshairCursor(),
				cm.highlightActiveLine(),
				cm.highlightSelectionMatches(),
				cm.lintGutter(),
				lineBreak ? cm.EditorState.lineSeparator.of(lineBreak) : [],
				language === "python" ? cm.python() : [],
				this.editable.of([]),
				cm.keymap.of([
					{ key: "Mod-s", run: () => { this.save(); return true; }, preventDefault: true },
					...cm.closeBracketsKeymap,
					...cm.defaultKeymap,
					...cm.searchKeymap,
					...cm.historyKeymap,
					...cm.foldKeymap,
					...cm.lintKeymap,
					cm.indentWithTab,
				]),
				theme(cm),
				cm.EditorView.contentAttributes.of({ "aria-label": `${this.file}, editable` }),
				cm.EditorView.updateListener.of((u) => {
					if (!u.docChanged)
						return;
					if (this.sinceSend)
						this.sinceSend.push(u.changes);
					this.justSaved = false;
					this.render();
				}),
			],
		});
		const host = $("editor");
		host.replaceChildren();
		this.view = new cm.EditorView({ state, parent: host });
		this.base = { checksum, doc: this.view.state.doc };
		document.addEventListener("keydown", this.onKey);
		this.bind("e-save", () => this.save());
		this.bind("e-close", () => this.askClose());
		this.bind("m-save", () => this.saveMerged());
		this.bind("m-overwrite", () => this.overwrite());
		this.bind("m-reload", () => this.reload());
		this.bind("m-keep", () => this.keepEditing());
		this.message(null);
		this.render();
		this.reconcile();
		this.view.focus();
	}

	bind(id, fn) {
		const el = $(id);
		el.addEventListener("click", fn);
		this.buttons.push([el, fn]);
	}

	// Ends the editor (the page shows the live view again).
	destroy() {
		this.closed = true;
		document.removeEventListener("keydown", this.onKey);
		for (const [el, fn] of this.buttons)
			el.removeEventListener("click", fn);
		this.buttons = [];
		this.closeMerge();
		if (this.view)
			this.view.destroy();
		this.view = null;
		$("editor").replaceChildren();
		this.message(null);
		this.showProblems([]);
		$("e-disk").hidden = true;
	}

	// The file on disk now, as the live view fetched it: { text, checksum,
	// mtime }, or { deleted: true }.
	diskChanged(disk) {
		// The version a save of this editor replaced, fetched before the
		// save's own change reached the live view: already old.
		if (!disk.deleted && disk.checksum === this.superseded)
			return;
		this.superseded = null;
		this.disk = disk;
		const m = this.merge;
		if (m && !disk.deleted && disk.checksum !== m.theirs.checksum) {
			// Merged again with the newer text, unless that would undo
			// the person's picks; Save merged then merges them with it.
			if (!m.review.picked)
				this.showMerge(disk);
			else
				this.mergeNote(`${this.file} changed on disk again (now checksum ` +
				    `${disk.checksum}): Save merged merges your picks with it.`);
		}
		this.reconcile();
	}

	// Says whether the file on disk is still what the edit started from;
	// takes the disk's version while the editor holds nothing of the
	// person's.
	reconcile() {
		const note = $("e-disk");
		if (!this.view || this.saving || !this.disk)
			return;
		const d = this.disk;
		if (!d.deleted && d.checksum === this.base.checksum) {
			note.hidden = true;
			return;
		}
		if (!d.deleted && !this.dirty && !this.merge) {
			this.setText(d.text, d.checksum);
			note.hidden = true;
			this.message("info", `${this.file} changed on disk; the editor, which held no ` +
			    `change of yours, now shows it (checksum ${d.checksum}).`);
			return;
		}
		note.replaceChildren();
		note.hidden = false;
		note.dataset.disk = d.deleted ? "deleted" : "changed";
		const p = document.createElement("span");
		p.textContent = d.deleted ?
		    `${this.file} was deleted on disk while you were editing. Your text is kept.` :
		    `${this.file} changed on disk (now checksum ${d.checksum}) since your edit ` +
		    `started from ${this.base.checksum}. Your text is kept; saving merges the two.`;
		note.append(p);
		if (!d.deleted) {
			note.append(this.button("Merge now", () => this.showMerge(d)),
			    this.button("Reload from disk (discard mine)", () => this.reload(d)));
		}
	}

	button(label, fn) {
		const b = document.createElement("button");
		b.type = "button";
		b.textContent = label;
		b.addEventListener("click", fn);
		return b;
	}

	// Saves text, an old version's (what: how the messages name it), as
	// a save of the person's: it replaces the editor's text (one undoable
	// change) and is saved from the base, so that a change on disk since
	// leads to the merge and the check may refuse it.
	restore(text, what) {
		if (!this.view || this.closed || this.saving)
			return;
		this.closeMerge();
		const current = this.view.state.sliceDoc();
		if (current !== text)
			this.view.dispatch({ changes: textChange(current, text) });
		this.save({ what });
	}

	// Replaces the editor's text by text, the file's content of checksum,
	// which becomes the base (one undoable change).
	setText(text, checksum) {
		const current = this.view.state.sliceDoc();
		if (current !== text)
			this.view.dispatch({ changes: textChange(current, text) });
		this.base = { checksum, doc: this.view.state.doc };
		this.justSaved = false;
		this.render();
	}

	// Saves the editor's text; ifMatch, the checksum the save is
	// conditional on, is the base's unless overwriting a newer version.
	// what: how the message calls the text while it is sent.
	async save({ ifMatch, what = "" } = {}) {
		if (!this.view || this.saving)
			return;
		if (this.merge && !ifMatch) {
			// Ctrl+S while the merge is shown.
			this.saveMerged();
			return;
		}
		if (this.readOnly) {
			this.message("forbidden", "This editor is read-only: the server does not let you " +
			    "save this file.");
			return;
		}
		if (!this.dirty && !ifMatch) {
			this.message("info", "Nothing to save: the text is the file's as it was loaded.");
			return;
		}
		const doc = this.view.state.doc;
		const text = this.view.state.sliceDoc();
		const checksum = ifMatch || this.base.checksum;
		this.saving = true;
		this.saveWhat = what;
		this.sinceSend = [];
		this.showProblems([]);
		this.message("saving", `Saving${what}…`);
		this.render();
		let answer = null, error = null;
		try {
			answer = await this.api.save(this.proposal, this.file, text, checksum);
		} catch (e) {
			error = e;
		}
		const since = this.sinceSend;
		this.saving = false;
		this.sinceSend = null;
		if (this.closed)
			return;
		if (answer)
			this.saved(text, doc, answer, since);
		else
			await this.notSaved(error, doc, since);
		if (this.closed)
			return;
		this.render();
		this.reconcile();
	}

	saved(text, doc, answer, since) {
		if (this.disk && !this.disk.deleted && this.disk.checksum !== answer.checksum)
			this.superseded = this.disk.checksum;
		this.disk = { text, checksum: answer.checksum, mtime: answer.mtime };
		this.base = { checksum: answer.checksum, doc };
		this.justSaved = true;
		this.closeMerge();
		const warnings = Array.isArray(answer.warnings) ? answer.warnings : [];
		this.mark([], warnings, doc, since);
		let msg = `Saved${this.saveWhat} at ${formatTime(new Date())}: checksum ${answer.checksum}, ` +
		    `${plural(answer.size, "byte")}.`;
		if (warnings.length)
			msg += ` The check has ${plural(warnings.length, "warning")}, marked in the editor ` +
			    "(they do not stop a save).";
		this.message(warnings.length ? "warnings" : "saved", msg);
		this.h.saved(text, answer);
	}

	async notSaved(e, doc, since) {
		const body = e.body || {};
		switch (e.kind) {
		case "conflict":
			this.message("merge", `Not saved: ${this.file} changed on disk since your edit ` +
			    `started from ${this.base.checksum}. Your changes and the ones on disk are ` +
			    "merged below: review them, then Save merged.");
			await this.showMerge(null, body.checksum);
			break;
		case "invalid": {
			const errors = Array.isArray(body.errors) ? body.errors : [];
			const warnings = Array.isArray(body.warnings) ? body.warnings : [];
			this.mark(errors, warnings, doc, since);
			this.message("invalid", errors.length ?
			    `Not saved: the check refused the file: ${plural(errors.length, "error")}, ` +
			    "marked in the editor. The file on disk is unchanged and your text is kept; " +
			    "correct it and save again." :
			    `Not saved: the check refused the file (${e.detail}). The file on disk is ` +
			    "unchanged and your text is kept.");
			break;
		}
		case "login":
			this.message("login", "Not saved: you are not logged in, or your login has " +
			    "expired. Your text is kept here: copy it somewhere safe, then reload the page " +
			    "to log in again.");
			break;
		case "forbidden":
			this.setReadOnly();
			this.message("forbidden", `Not saved: ${e.detail}. You may read ${this.file} but ` +
			    "not save it, so the editor is read-only now; your text is still here to copy.");
			this.h.readOnly(e.detail);
			break;
		case "too-large":
			this.message("too-large", `Not saved: the text is larger than the server accepts ` +
			    `(${e.detail}). Your text is kept.`);
			break;
		case "unavailable": {
			const after = e.retryAfter ? ` in ${plural(e.retryAfter, "second")}` : " in a moment";
			this.message("unavailable", `Not saved: the service is unavailable or busy ` +
			    `(${e.detail}). Your text is kept; save again${after}.`);
			break;
		}
		default:
			this.message("error", `Not saved: unexpected answer from the server (${e.status}: ` +
			    `${e.detail}). Your text is kept.`);
		}
	}

	// Marks the check's findings, given against doc (the text sent), at
	// their places in the editor's text now.
	mark(errors, warnings, doc, since) {
		const cm = this.cm;
		const map = (pos, assoc) => {
			for (const c of since || [])
				pos = c.mapPos(pos, assoc);
			return pos;
		};
		const diagnostics = [];
		const problems = [];
		for (const [list, severity] of [[errors, "error"], [warnings, "warning"]]) {
			for (const f of list) {
				const r = findingRange(doc, f.line, f.column);
				const d = { from: map(r.from, -1), to: map(r.to, 1), severity,
				    message: String(f.message), source: "check" };
				diagnostics.push(d);
				problems.push({ line: f.line, column: f.column, severity, message: d.message, d });
			}
		}
		this.view.dispatch(cm.setDiagnostics(this.view.state, diagnostics));
		this.showProblems(problems);
	}

	// The list of findings under the editor; each one leads to its place.
	showProblems(problems) {
		this.problems = problems;
		const list = $("problems");
		list.replaceChildren();
		list.hidden = problems.length === 0;
		for (const p of problems) {
			const li = document.createElement("li");
			li.dataset.severity = p.severity;
			li.dataset.line = String(p.line);
			const where = this.button(`line ${p.line}${p.column != null ? `, column ${p.column}` : ""}`,
			    () => this.goTo(p));
			const what = document.createElement("span");
			what.textContent = `${p.severity === "error" ? "error" : "warning"}: ${p.message}`;
			li.append(where, what);
			list.append(li);
		}
	}

	goTo(p) {
		let at = null;
		this.cm.forEachDiagnostic(this.view.state, (d, from) => {
			if (d === p.d || (at === null && d.message === p.message))
				at = from;
		});
		if (at === null) {
			const doc = this.view.state.doc;
			at = doc.line(Math.min(Math.max(1, p.line), doc.lines)).from;
		}
		this.view.dispatch({ selection: { anchor: at }, scrollIntoView: true });
		this.view.focus();
	}

	setReadOnly() {
		const cm = this.cm;
		this.readOnly = true;
		this.view.dispatch({ effects: this.editable.reconfigure([
			cm.EditorState.readOnly.of(true),
			cm.EditorView.editable.of(false),
		]) });
	}

	// The merge: the version the edit started from, mine (the editor's
	// text) and the file on disk (disk, or fetched; checksum, the one a 412
	// named), merged and shown for review.
	async showMerge(disk, checksum) {
		const cm = this.cm;
		if (!disk || disk.deleted) {
			try {
				const body = await this.api.content(this.proposal, this.file, null);
				disk = { text: decodeText(body.content, body.encoding), checksum: body.checksum,
				    mtime: body.mtime };
			} catch (e) {
				this.message("error", `Not saved: ${this.file} changed on disk (now ` +
				    `${checksum || "unknown"}), and reading it failed: ${e.detail}. Your text ` +
				    "is kept.");
				return;
			}
		}
		let m;
		try {
			m = await loadMerge();
		} catch (e) {
			this.message("error", `Not saved: ${this.file} changed on disk, and the page could ` +
			    `not load its merge (${e.message}). Your text is kept; reload the page to try again.`);
			return;
		}
		if (this.closed)
			return;
		const mine = this.view.state.sliceDoc();
		const base = this.base.doc.sliceString(0, this.base.doc.length, this.view.state.lineBreak);
		const blocks = m.merge3(base, mine, disk.text);
		const merged = m.mergedText(blocks);
		if (disk.text === mine || merged === disk.text) {
			// The disk has this very text (a save whose answer was lost),
			// or has every change of mine already: nothing to merge.
			this.closeMerge();
			this.setText(disk.text, disk.checksum);
			this.message("saved", `${this.file} on disk already has ` +
			    `${disk.text === mine ? "your text" : "all your changes"} (checksum ${disk.checksum}).`);
			return;
		}
		this.closeMerge();
		const review = new m.MergeReview(cm, {
			host: $("m-review"),
			list: $("m-changes"),
			extensions: [cm.lineNumbers(), cm.syntaxHighlighting(highlightStyle(cm)),
			    /\.py$/.test(this.file) ? cm.python() : [], theme(cm)],
			onChange: () => this.renderMerge(),
		}, blocks);
		this.merge = { theirs: disk, review };
		$("m-disk").textContent = `On disk now: checksum ${disk.checksum}` +
		    (disk.mtime ? `, saved ${formatTime(new Date(disk.mtime * 1000))}` : "") +
		    `. Yours: edited from ${this.base.checksum}, not saved.`;
		this.mergeNote(null);
		$("merge").hidden = false;
		$("edit-view").dataset.merge = "on";
		this.renderMerge();
		review.showFirstConflict();
		if (!review.conflictsLeft)
			$("m-save").focus();
	}

	// The merge's summary and whether it may be saved.
	renderMerge() {
		const r = this.merge && this.merge.review;
		if (!r)
			return;
		const left = r.conflictsLeft, all = r.conflicts;
		const el = $("m-summary");
		el.dataset.conflicts = String(left);
		el.textContent = all === 0 ?
		    "Your changes and the ones on disk do not overlap: they are merged below, each " +
		    "marked by where it came from. Review them, then Save merged." :
		    left > 0 ?
		    `${plural(left, "conflict")} of ${all} left: your changes and the ones on disk ` +
		    "overlap there. Pick yours, theirs or both in place; the rest is merged, each " +
		    "change marked by where it came from." :
		    "Every conflict is picked. Review the merged text, then Save merged.";
		$("m-save").disabled = left > 0 || this.saving;
	}

	mergeNote(text) {
		const el = $("m-note");
		el.textContent = text || "";
		el.hidden = !text;
	}

	closeMerge() {
		if (this.merge)
			this.merge.review.destroy();
		this.merge = null;
		$("m-review").replaceChildren();
		$("m-changes").replaceChildren();
		$("merge").hidden = true;
		delete $("edit-view").dataset.merge;
	}

	// Saves the merged text: it goes into the editor (one undoable
	// change), the disk's version it was merged with becomes the version
	// the edit started from, and it is saved like any text: a 422 marks it
	// in the editor, a 412 merges it again with the newer text on disk.
	saveMerged() {
		const m = this.merge;
		const text = m && m.review.text;
		if (text == null || this.saving)
			return;
		this.closeMerge();
		const current = this.view.state.sliceDoc();
		if (current !== text)
			this.view.dispatch({ changes: textChange(current, text) });
		this.base = { checksum: m.theirs.checksum, doc: this.view.state.toText(m.theirs.text) };
		this.save({ what: " the merged text" });
	}

	// Saves mine over the version the merge was made with.
	overwrite() {
		if (this.merge)
			this.save({ ifMatch: this.merge.theirs.checksum });
	}

	// Takes the disk's version (the merge's, or disk), mine is dropped
	// (undo brings it back).
	reload(disk) {
		const d = disk && !disk.deleted && disk.text != null ? disk : this.merge && this.merge.theirs;
		if (!d)
			return;
		this.closeMerge();
		this.setText(d.text, d.checksum);
		this.view.dispatch(this.cm.setDiagnostics(this.view.state, []));
		this.showProblems([]);
		this.message("info", `Reloaded ${this.file} from disk (checksum ${d.checksum}); your ` +
		    "changes are dropped (Ctrl+Z brings them back).");
		this.reconcile();
		this.view.focus();
	}

	keepEditing() {
		this.closeMerge();
		this.message("info", `Your text is kept, not saved. ${this.file} on disk is newer than ` +
		    "your edit: saving asks again.");
		this.reconcile();
		this.view.focus();
	}

	// Closes at once when nothing is unsaved; else asks, in the page.
	askClose() {
		if (!this.dirty || this.readOnly) {
			this.h.closed();
			return;
		}
		this.message("confirm", "Your changes are not saved.", [
			this.button("Discard them and close", () => this.h.closed()),
			this.button("Keep editing", () => {
				this.message(null);
				this.view.focus();
			}),
		]);
	}

	// Says why the page will not open another file now.
	refuseLeave() {
		this.message("confirm", "Your changes are not saved: save them, or close the editor " +
		    "(and discard them), before opening another file.");
	}

	// The message under the bar: kind (saved, warnings, invalid, merge,
	// login, forbidden, too-large, unavailable, error, info, saving,
	// confirm) or null for none.
	message(kind, text = "", buttons = []) {
		const el = $("e-msg");
		el.replaceChildren();
		if (!kind) {
			el.hidden = true;
			delete el.dataset.kind;
			return;
		}
		el.dataset.kind = kind;
		const span = document.createElement("span");
		span.textContent = text;
		el.append(span, ...buttons);
		el.hidden = false;
	}

	// The bar: the editor's state and its buttons.
	render() {
		const state = !this.view ? "loading" : this.readOnly ? "read-only" :
		    this.saving ? "saving" : this.dirty ? "dirty" : this.justSaved ? "saved" : "clean";
		const el = $("e-state");
		el.dataset.state = state;
		el.textContent = {
			loading: "Loading the editor…",
			"read-only": "Read-only",
			saving: "Saving…",
			dirty: "Unsaved changes",
			saved: "Saved",
			clean: "No changes",
		}[state];
		$("e-base").textContent = this.base ? `editing from checksum ${this.base.checksum}` : "";
		$("e-save").disabled = state !== "dirty";
		this.renderMerge();
	}
}
