// The three-way merge of a save that the file's change on disk refused
// (DESIGN.md section 9): the version the edit started from (base), the
// person's text (mine) and the text on disk (theirs), line by line with
// node-diff3 (vendor/diff3.js). Imported by editor.js on the first 412 only.
//
// A merge is a list of blocks, in the order of the merged text:
//   { from: "base", lines }                 unchanged on both sides
//   { from: "mine" | "theirs", lines, removed }
//                                           changed on one side only: lines
//                                           replace removed lines of base
//   { from: "both", lines, removed }        the same change on both sides
//   { conflict: true, mine, theirs, base, pick }
//                                           both sides changed these lines
//                                           of base differently; pick is
//                                           null until the person picks
//                                           "mine", "theirs" or "both"
// Lines keep their line breaks, so the merged text is their concatenation,
// byte for byte.

import { diff3MergeRegions, diffIndices } from "./vendor/diff3.js";
import { textChange } from "./diff.js";
import { el, plural } from "./dom.js";

const COLLAPSE_MARGIN = 3;	// unchanged lines kept around a change
const COLLAPSE_MIN = 6;		// fewer unchanged lines than this stay shown

// The lines of text, each with its line break; "" has none.
export function splitKeep(text) {
	return text.match(/[^\n]*\n|[^\n]+$/g) || [];
}

const same = (a, b) => a.length === b.length && a.every((l, i) => l === b[i]);

// Merges mine and theirs, both changed from base (three strings); returns
// the blocks.
export function merge3(base, mine, theirs) {
	const o = splitKeep(base), a = splitKeep(mine), b = splitKeep(theirs);
	// The lines of base that mine removed without putting anything in
	// their place, by where they start: a removal leaves no region of its
	// own, only a gap in base.
	const mineRemoves = new Set(diffIndices(o, a)
	    .filter((h) => h.buffer2[1] === 0).map((h) => h.buffer1[0]));
	const blocks = [];
	let basePos = 0, changed = false;
	const gap = (upTo) => {
		if (upTo > basePos && !changed)
			blocks.push({ from: mineRemoves.has(basePos) ? "mine" : "theirs", lines: [],
			    removed: upTo - basePos });
	};
	for (const r of diff3MergeRegions(a, o, b)) {
		if (r.stable && r.buffer === "o") {
			gap(r.bufferStart);
			blocks.push({ from: "base", lines: r.bufferContent });
			basePos = r.bufferStart + r.bufferLength;
			changed = false;
		} else if (r.stable) {
			blocks.push({ from: r.buffer === "a" ? "mine" : "theirs", lines: r.bufferContent,
			    removed: 0 });
			changed = true;
		} else if (same(r.aContent, r.bContent)) {
			blocks.push({ from: "both", lines: r.aContent, removed: r.oLength });
			basePos = r.oStart + r.oLength;
			changed = true;
		} else {
			blocks.push({ conflict: true, mine: r.aContent, theirs: r.bContent,
			    base: r.oContent, pick: null });
			basePos = r.oStart + r.oLength;
			changed = true;
		}
	}
	gap(o.length);
	return blocks;
}

// The lines a conflict block stands for once picked: both is mine, then
// theirs (on a line of its own, should mine end without a line break).
function pickedLines(c) {
	if (c.pick === "mine")
		return c.mine;
	if (c.pick === "theirs")
		return c.theirs;
	const mine = c.mine.slice();
	const last = mine.length - 1;
	if (last >= 0 && c.theirs.length && !mine[last].endsWith("\n"))
		mine[last] += /\r\n$/.test(c.theirs[0]) ? "\r\n" : "\n";
	return mine.concat(c.theirs);
}

function linesOf(block) {
	return block.conflict ? (block.pick ? pickedLines(block) : []) : block.lines;
}

// The merged text, or null while a conflict is not picked.
export function mergedText(blocks) {
	if (blocks.some((b) => b.conflict && !b.pick))
		return null;
	return blocks.map((b) => linesOf(b).join("")).join("");
}

const WHO = { mine: "yours", theirs: "on disk", both: "on both sides" };
const PICKS = [
	["mine", "Take mine", "Keep your lines, drop the ones on disk"],
	["theirs", "Take theirs", "Keep the lines on disk, drop yours"],
	["both", "Take both", "Your lines, then the ones on disk"],
];

function tookText(pick) {
	return pick === "both" ? "took both, yours first" :
	    pick === "mine" ? "took yours" : "took the one on disk";
}



// The review of a merge: a read-only editor on the merged text, each line
// that came from one side marked as such, a conflict as a box in its place
// with both sides' lines and Take mine / Take theirs / Take both; long
// unchanged stretches folded into a bar that a click opens; and a list of
// what merged, each entry leading to its place.
export class MergeReview {
	// cm: the CodeMirror module; host: where the editor goes; list: the
	// list's element; extensions: the editor's look (line numbers,
	// highlighting); onChange(): after each pick.
	constructor(cm, { host, list, extensions, onChange }, blocks) {
		defineWidgets(cm);
		this.cm = cm;
		this.blocks = blocks;
		this.list = list;
		this.onChange = onChange;
		this.open = new Set();		// indexes of base blocks shown whole
		this.setMarks = cm.StateEffect.define();
		const marks = cm.StateField.define({
			create: () => cm.Decoration.none,
			update: (deco, tr) => {
				for (const e of tr.effects)
					if (e.is(this.setMarks))
						return e.value;
				return deco.map(tr.changes);
			},
			provide: (f) => cm.EditorView.decorations.from(f),
		});
		this.view = new cm.EditorView({
			parent: host,
			state: cm.EditorState.create({
				doc: this.shownText(),
				extensions: [extensions, marks,
				    cm.EditorState.readOnly.of(true), cm.EditorView.editable.of(false)],
			}),
		});
		this.redraw(null);
	}

	get conflicts() {
		return this.blocks.filter((b) => b.conflict).length;
	}

	get conflictsLeft() {
		return this.blocks.filter((b) => b.conflict && !b.pick).length;
	}

	get picked() {
		return this.blocks.some((b) => b.conflict && b.pick);
	}

	// The merged text, or null while a conflict is left.
	get text() {
		return mergedText(this.blocks);
	}

	// What the editor shows: the merged lines without their breaks.
	shownText() {
		return this.blocks.flatMap(linesOf).map((l) => l.replace(/\r?\n$/, "")).join("\n");
	}

	destroy() {
		this.view.destroy();
		this.list.replaceChildren();
	}

	pick(index, how) {
		this.blocks[index].pick = how;
		this.redraw();
		this.onChange();
	}

	// Shows the blocks as they are now; the text changes by its changed
	// part only, so that the scroll position stays.
	redraw(current = this.view.state.sliceDoc()) {
		const cm = this.cm;
		const doc = current === null ? this.view.state.doc : this.view.state.toText(this.shownText());
		const ranges = [];
		const entries = [];
		let line = 1;		// the first line of the block, in doc
		const startOf = (n) => (n <= doc.lines ? doc.line(n).from : doc.length);
		const widget = (n, w) => ranges.push(cm.Decoration.widget({ widget: w, block: true,
		    side: n <= doc.lines ? -1 : 1 }).range(startOf(n)));
		const mark = (n, count, cls, title) => {
			for (let i = 0; i < count; i++)
				ranges.push(cm.Decoration.line({ class: cls, attributes: { title } })
				    .range(doc.line(n + i).from));
		};
		this.blocks.forEach((b, i) => {
			const lines = linesOf(b).length;
			if (b.conflict) {
				const n = this.conflictNumber(i);
				if (!b.pick) {
					widget(line, new ConflictWidget(this, i, n));
					entries.push({ line, kind: "conflict",
					    text: `conflict ${n}: pick yours, theirs or both` });
				} else {
					widget(line, new PickedWidget(this, i, n, b.pick));
					// Both: each line marked by the side it came from.
					const mine = b.pick === "both" ? b.mine.length : 0;
					mark(line, mine, "mg-line mg-mine", `conflict ${n}: yours`);
					mark(line + mine, lines - mine, `mg-line mg-${b.pick === "both" ? "theirs" : b.pick}`,
					    `conflict ${n}: ${b.pick === "mine" ? "yours" : "on disk"}`);
					entries.push({ line, kind: b.pick, text: `conflict ${n}: ${tookText(b.pick)}` });
				}
			} else if (b.from === "base") {
				const first = line + (i > 0 ? COLLAPSE_MARGIN : 0);
				const last = line + lines - 1 - (i < this.blocks.length - 1 ? COLLAPSE_MARGIN : 0);
				if (last - first + 1 >= COLLAPSE_MIN && !this.open.has(i))
					ranges.push(cm.Decoration.replace({ block: true,
					    widget: new CollapsedWidget(this, i, last - first + 1) })
					    .range(doc.line(first).from, doc.line(last).to));
			} else {
				const who = WHO[b.from];
				if (b.removed && !lines)
					widget(line, new RemovedWidget(b.from, b.removed));
				mark(line, lines, `mg-line mg-${b.from}`, b.from === "both" ?
				    "the same change on both sides" : who);
				const what = lines ? plural(lines, "line") : `${plural(b.removed, "line")} removed`;
				entries.push({ line, kind: b.from, text: b.from === "both" ?
				    `${what}: the same change on both sides` : `${what}: ${who}` });
			}
			line += lines;
		});
		const effects = this.setMarks.of(cm.Decoration.set(ranges, true));
		if (current === null)
			this.view.dispatch({ effects });
		else
			this.view.dispatch({ changes: textChange(current, doc.toString()), effects });
		this.entries = entries;
		this.showList(entries);
	}

	// Scrolls to the first conflict left, if any.
	showFirstConflict() {
		const e = this.entries.find((x) => x.kind === "conflict");
		if (e)
			this.goTo(e.line);
	}

	conflictNumber(index) {
		return this.blocks.slice(0, index + 1).filter((b) => b.conflict).length;
	}

	showList(entries) {
		this.list.replaceChildren();
		for (const e of entries) {
			const li = el("li");
			li.dataset.kind = e.kind;
			li.dataset.line = String(e.line);
			const go = el("button", null, `line ${e.line}`);
			go.type = "button";
			go.addEventListener("click", () => this.goTo(e.line));
			li.append(go, el("span", null, e.text));
			this.list.append(li);
		}
	}

	goTo(n) {
		const doc = this.view.state.doc;
		const pos = n <= doc.lines ? doc.line(n).from : doc.length;
		this.view.dispatch({ effects: this.cm.EditorView.scrollIntoView(pos, { y: "center" }) });
	}
}

// The widgets are made per class at first use: WidgetType comes with the
// CodeMirror module, which this module does not import.
let ConflictWidget, PickedWidget, RemovedWidget, CollapsedWidget;

function pickButtons(review, index, exclude) {
	const div = el("div", "mg-picks");
	for (const [how, label, title] of PICKS) {
		if (how === exclude)
			continue;
		const b = el("button", null, label);
		b.type = "button";
		b.title = title;
		b.dataset.pick = how;
		b.addEventListener("click", () => review.pick(index, how));
		div.append(b);
	}
	return div;
}

function side(cls, label, lines) {
	const div = el("div", `mg-side ${cls}`);
	const pre = el("pre", null, lines.map((l) => l.replace(/\r?\n$/, "")).join("\n"));
	if (!lines.length)
		pre.append(el("em", null, "(nothing: the lines are removed)"));
	div.append(el("div", "mg-label", label), pre);
	return div;
}

// Defines the widget classes on cm's WidgetType, once.
function defineWidgets(cm) {
	if (ConflictWidget)
		return;
	// A widget about block index of the review, n its number or size.
	class BlockWidget extends cm.WidgetType {
		constructor(review, index, n) {
			super();
			this.review = review;
			this.index = index;
			this.n = n;
		}

		eq(other) {
			return other.review === this.review && other.index === this.index;
		}
	}
	ConflictWidget = class extends BlockWidget {
		toDOM() {
			const b = this.review.blocks[this.index];
			const box = el("div", "mg-conflict");
			box.dataset.conflict = String(this.n);
			box.append(el("div", "mg-head", `Conflict ${this.n}: both changed ` +
			    (b.base.length ? `${plural(b.base.length, "line")} of the version you started from` :
			    "the same place")), side("mg-mine", "Yours", b.mine),
			    side("mg-theirs", "On disk", b.theirs), pickButtons(this.review, this.index, null));
			return box;
		}

		get estimatedHeight() {
			const b = this.review.blocks[this.index];
			return 90 + 20 * (Math.max(b.mine.length, 1) + Math.max(b.theirs.length, 1));
		}
	};
	PickedWidget = class extends BlockWidget {
		constructor(review, index, n, pick) {
			super(review, index, n);
			this.pickName = pick;
		}

		eq(other) {
			return super.eq(other) && other.pickName === this.pickName;
		}

		toDOM() {
			const box = el("div", "mg-resolved");
			box.dataset.conflict = String(this.n);
			box.dataset.pick = this.pickName;
			const again = el("button", null, "Pick again");
			again.type = "button";
			again.addEventListener("click", () => this.review.pick(this.index, null));
			box.append(el("span", null, `Conflict ${this.n}: ${tookText(this.pickName)}`), again);
			return box;
		}
	};
	RemovedWidget = class extends cm.WidgetType {
		constructor(from, n) {
			super();
			this.from = from;
			this.n = n;
		}

		eq(other) {
			return other.from === this.from && other.n === this.n;
		}

		toDOM() {
			const div = el("div", `mg-removed mg-${this.from}`,
			    `${plural(this.n, "line")} removed ` +
			    (this.from === "mine" ? "by you" : WHO[this.from]));
			div.dataset.from = this.from;
			return div;
		}
	};
	// Unchanged lines folded: a bar drawn by style.css, its text plain
	// words (no symbol a font may lack).
	CollapsedWidget = class extends BlockWidget {
		eq(other) {
			return super.eq(other) && other.n === this.n;
		}

		toDOM() {
			const b = el("button", "mg-collapsed", `${plural(this.n, "unchanged line")}: show`);
			b.type = "button";
			b.addEventListener("click", () => {
				this.review.open.add(this.index);
				this.review.redraw();
			});
			return b;
		}

		get estimatedHeight() {
			return 28;
		}
	};
}
