// Which lines of a new version of a file are new or changed: the common
// head and tail are skipped in linear time, and the middle is compared line
// by line (a longest common subsequence) only while it is small; a larger
// middle counts as changed as a whole. Bounded in time and memory whatever
// the files.

const LCS_MAX_CELLS = 250000;	// 500 x 500 lines

// Returns { ranges: [[from, to), ...] of lines of b, removed: lines of a
// that are gone, first: the first changed line of b or -1, head and tail:
// the lines a and b share at their start and end }.
export function changedLines(a, b) {
	let head = 0;
	const min = Math.min(a.length, b.length);
	while (head < min && a[head] === b[head])
		head++;
	let tail = 0;
	while (tail < min - head && a[a.length - 1 - tail] === b[b.length - 1 - tail])
		tail++;
	const am = a.length - head - tail, bm = b.length - head - tail;
	if (bm === 0)
		return { ranges: [], removed: am, first: am > 0 ? Math.min(head, b.length - 1) : -1,
		    head, tail };
	if (am === 0 || am * bm > LCS_MAX_CELLS)
		return { ranges: [[head, head + bm]], removed: am, first: head, head, tail };
	const kept = lcsKept(a, head, am, b, head, bm);
	const ranges = [];
	for (let j = 0; j < bm; j++) {
		if (kept[j])
			continue;
		const last = ranges[ranges.length - 1];
		if (last && last[1] === head + j)
			last[1]++;
		else
			ranges.push([head + j, head + j + 1]);
	}
	return {
		ranges,
		removed: am - kept.reduce((n, k) => n + k, 0),
		first: ranges.length ? ranges[0][0] : -1,
		head,
		tail,
	};
}

// kept[j] = 1 when line b[bo + j] is in a longest common subsequence of
// a[ao .. ao + an) and b[bo .. bo + bn).
function lcsKept(a, ao, an, b, bo, bn) {
	const w = bn + 1;
	const t = new Uint16Array((an + 1) * w);
	for (let i = an - 1; i >= 0; i--)
		for (let j = bn - 1; j >= 0; j--)
			t[i * w + j] = a[ao + i] === b[bo + j] ? t[(i + 1) * w + j + 1] + 1 :
			    Math.max(t[(i + 1) * w + j], t[i * w + j + 1]);
	const kept = new Uint8Array(bn);
	for (let i = 0, j = 0; i < an && j < bn;) {
		if (a[ao + i] === b[bo + j]) {
			kept[j] = 1;
			i++;
			j++;
		} else if (t[(i + 1) * w + j] >= t[i * w + j + 1]) {
			i++;
		} else {
			j++;
		}
	}
	return Array.from(kept);
}

// The smallest change that turns the string current into text: the common
// head and tail stay (CodeMirror's change spec), so that the cursor and the
// scroll position outside the change stay too.
export function textChange(current, text) {
	let head = 0;
	const min = Math.min(current.length, text.length);
	while (head < min && current.charCodeAt(head) === text.charCodeAt(head))
		head++;
	let tail = 0;
	while (tail < min - head &&
	    current.charCodeAt(current.length - 1 - tail) === text.charCodeAt(text.length - 1 - tail))
		tail++;
	return { from: head, to: current.length - tail, insert: text.slice(head, text.length - tail) };
}
