// The file's lines on screen: a virtualised list of fixed-height rows.
// Only the rows in view (and a few around them) exist in the page, so a
// file of any length costs the same to show and to scroll; a spacer as high
// as all the lines keeps the scroll bar true.
//
// Lines may come with highlighted HTML (from highlight.js); lines that have
// none yet are shown as escaped text. Changed lines are marked for
// FLASH_MS. With follow set (logs), the view stays at the end while the
// person has not scrolled up.

const OVERSCAN = 30;		// rows rendered above and below the view
const MAX_CHARS = 4000;		// of one line; the rest is left out, and said
const FLASH_MS = 2000;		// as the CSS animation of .changed
const MAX_FLASHES = 64;		// ranges marked at once

export function escapeHtml(s) {
	return s.replace(/[&<>"]/g, (c) =>
	    c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : "&quot;");
}

export class LineView {
	// el: the scrolling element, holding .sizer > .rows.
	constructor(el) {
		this.el = el;
		this.sizer = el.querySelector(".sizer");
		this.rows = el.querySelector(".rows");
		this.lineHeight = parseFloat(getComputedStyle(el).getPropertyValue("--line-height")) || 20;
		this.lines = [];
		this.count = 0;		// lines when last drawn
		this.html = null;
		this.flashes = [];
		this.classify = null;
		this.follow = false;
		this.following = true;
		this.unseen = 0;
		this.onUnseen = null;
		this.drawn = "";
		this.pending = false;
		this.version = 0;
		this.maxLen = 0;
		this.lastTop = 0;
		el.addEventListener("scroll", () => {
			// Only a scroll up leaves the end (the view shrinking while
			// the page around it changes is no scroll of the person's).
			const top = el.scrollTop;
			if (this.follow) {
				this.following = top < this.lastTop - 1 ? this.atEnd() :
				    this.following || this.atEnd();
				if (this.following && this.unseen) {
					this.unseen = 0;
					if (this.onUnseen)
						this.onUnseen(0);
				}
			}
			this.lastTop = top;
			this.schedule();
		}, { passive: true });
		// A view that shrinks (the page around it changed) stays at the end.
		new ResizeObserver(() => {
			if (this.follow && this.following)
				this.el.scrollTop = this.el.scrollHeight;
			this.schedule();
		}).observe(el);
	}

	// A fresh view: follow says whether it keeps to the end (logs);
	// classify(line) gives extra classes for a row (log levels).
	reset({ follow = false, classify = null } = {}) {
		this.follow = follow;
		this.following = true;
		this.classify = classify;
		this.unseen = 0;
		this.setLines([], {});
		this.el.scrollTop = 0;
		this.el.scrollLeft = 0;
	}

	// Replaces every line; html: highlighted lines (or null); changed: the
	// ranges [from, to) to mark.
	setLines(lines, { html = null, changed = [] }) {
		this.lines = lines;
		this.html = html;
		this.maxLen = 0;
		this.measure(0);
		this.mark(changed);
		this.changedSize();
	}

	// The lines from index from on were replaced or added (a log grew):
	// lines is the whole array, changed or not.
	appended(lines, from, { mark = true } = {}) {
		// lines may be the array the view holds, grown in place.
		const added = lines.length - this.count;
		this.lines = lines;
		this.measure(from);
		if (mark && lines.length > from)
			this.mark([[from, lines.length]]);
		if (this.follow && !this.following && added > 0) {
			this.unseen += added;
			if (this.onUnseen)
				this.onUnseen(this.unseen);
		}
		this.changedSize();
	}

	// The highlighted HTML of every line, once it is ready.
	setHtml(html) {
		this.html = html;
		this.version++;
		this.schedule();
	}

	scrollToLine(i) {
		const top = i * this.lineHeight;
		const h = this.el.clientHeight;
		if (top < this.el.scrollTop || top + this.lineHeight > this.el.scrollTop + h)
			this.el.scrollTop = Math.max(0, top - h / 3);
	}

	scrollToEnd() {
		this.el.scrollTop = this.el.scrollHeight;
		this.following = true;
		this.unseen = 0;
		if (this.onUnseen)
			this.onUnseen(0);
	}

	isVisible(i) {
		const top = i * this.lineHeight;
		return top >= this.el.scrollTop &&
		    top + this.lineHeight <= this.el.scrollTop + this.el.clientHeight;
	}

	atEnd() {
		return this.el.scrollTop + this.el.clientHeight >= this.el.scrollHeight - this.lineHeight;
	}

	// Internals.

	measure(from) {
		for (let i = from; i < this.lines.length; i++)
			if (this.lines[i].length > this.maxLen)
				this.maxLen = this.lines[i].length;
	}

	mark(ranges) {
		const now = performance.now();
		for (const [from, to] of ranges)
			this.flashes.push({ from, to, start: now });
		this.flashes = this.flashes.filter((f) => now - f.start < FLASH_MS).slice(-MAX_FLASHES);
		// Once they faded, the rows lose the mark.
		if (ranges.length) {
			clearTimeout(this.unmark);
			this.unmark = setTimeout(() => {
				this.version++;
				this.schedule();
			}, FLASH_MS + 50);
		}
	}

	changedSize() {
		const n = this.lines.length;
		this.count = n;
		const digits = String(Math.max(n, 1)).length;
		this.el.style.setProperty("--gutter", `${digits + 2}ch`);
		this.sizer.style.height = `${n * this.lineHeight}px`;
		this.sizer.style.minWidth = `calc(var(--gutter) + ${Math.min(this.maxLen, MAX_CHARS) + 4}ch)`;
		this.el.dataset.lines = String(n);
		this.version++;
		if (this.follow && this.following)
			this.el.scrollTop = this.el.scrollHeight;
		this.schedule();
	}

	schedule() {
		if (this.pending)
			return;
		this.pending = true;
		requestAnimationFrame(() => this.render());
	}

	lineHtml(i) {
		const h = this.html && this.html[i];
		if (h != null)
			return h;
		let s = this.lines[i];
		if (s.endsWith("\r"))
			s = s.slice(0, -1);
		if (s.length <= MAX_CHARS)
			return escapeHtml(s);
		return escapeHtml(s.slice(0, MAX_CHARS)) +
		    `<span class="cut"> … ${s.length - MAX_CHARS} more characters</span>`;
	}

	flashAt(i) {
		for (let k = this.flashes.length - 1; k >= 0; k--)
			if (i >= this.flashes[k].from && i < this.flashes[k].to)
				return this.flashes[k];
		return null;
	}

	render() {
		this.pending = false;
		const lh = this.lineHeight, n = this.lines.length;
		const top = this.el.scrollTop, height = this.el.clientHeight;
		const first = Math.max(0, Math.floor(top / lh) - OVERSCAN);
		const last = Math.min(n, Math.ceil((top + height) / lh) + OVERSCAN);
		const key = `${first}:${last}:${this.version}`;
		// Unchanged rows stay as they are (and a selection in them).
		if (key === this.drawn)
			return;
		this.drawn = key;
		const now = performance.now();
		const delays = [];
		let out = "";
		for (let i = first; i < last; i++) {
			let cls = "ln";
			const f = this.flashAt(i);
			if (f && now - f.start < FLASH_MS) {
				cls += " changed";
				delays.push([i - first, `-${Math.round(now - f.start)}ms`]);
			}
			const extra = this.classify && this.classify(this.lines[i]);
			if (extra)
				cls += " " + extra;
			out += `<div class="${cls}"><span class="no">${i + 1}</span>` +
			    `<span class="tx">${this.lineHtml(i)}</span></div>`;
		}
		this.rows.style.transform = `translateY(${first * lh}px)`;
		this.rows.innerHTML = out;
		// A flash redrawn goes on where it was. Set through the style
		// object: the page's policy refuses style attributes in markup.
		for (const [k, delay] of delays)
			this.rows.children[k].style.animationDelay = delay;
	}
}
