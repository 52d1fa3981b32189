#!/usr/bin/env bats
# dist/validate-context, the shipped "validate" command for context.py, run
# directly as watcherd runs it: the content on stdin, FILE_NAME in the
# environment, nothing else. Exit 0 accepts, 1 refuses, 2 is no verdict
# (the validator failed); findings are NAME:LINE:COL: or NAME:LINE: lines.

VALIDATE="$BATS_TEST_DIRNAME/../../dist/validate-context"

setup() {
	IN="$BATS_TEST_TMPDIR/in.py"
}

# validate [CONTENT]: runs the validator on CONTENT (printf format) as
# watcherd does, with FILE_NAME unset unless the caller set it.
validate() {
	# shellcheck disable=SC2059
	printf -- "$1" >"$IN"
	run env -i PATH="$PATH" PROPOSAL=1111 USER=alice \
	    ${FILE_NAME:+FILE_NAME="$FILE_NAME"} "$VALIDATE" <"$IN"
}

needs_pyflakes() {
	/usr/bin/python3 -I -c 'import pyflakes.checker' 2>/dev/null ||
	    skip "python3-pyflakes is not installed: names are not checked"
}

# Every line is a finding: never a traceback, never a stray line.
all_findings() {
	local line
	for line in "${lines[@]}"; do
		[[ "$line" =~ ^${1:-context.py}:[0-9]+(:[0-9]+)?:\ .+ ]] || {
			echo "not a finding: $line"
			return 1
		}
	done
}

@test "a valid context file is accepted with no output" {
	validate 'from damnit_ctx import Variable\n\n@Variable(title="Trains")\ndef n_trains(run):\n    return len(run.train_ids)\n'
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "empty content is accepted" {
	validate ''
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "a syntax error is refused at its line and column" {
	validate 'x = 1\ndef f(:\n    pass\n'
	[ "$status" -eq 1 ]
	[ "$output" = "context.py:2:7: invalid syntax" ]
}

@test "an unclosed bracket is refused where it opens" {
	validate 'x = [1,\n     2\n'
	[ "$status" -eq 1 ]
	[ "$output" = "context.py:1:5: '[' was never closed" ]
}

@test "what the compiler refuses is refused, its column in characters" {
	validate 'x = 1\ny = "\xc3\xa9\xc3\xa9"; return y\n'
	[ "$status" -eq 1 ]
	[ "$output" = "context.py:2:11: 'return' outside function" ]
}

@test "an undefined name is refused" {
	needs_pyflakes
	validate 'from damnit_ctx import Variable\n\n@Variable()\ndef energy(run):\n    return undefined_thing\n'
	[ "$status" -eq 1 ]
	[ "$output" = "context.py:5:12: undefined name 'undefined_thing'" ]
}

@test "DAMNIT's dependency annotations are not undefined names" {
	needs_pyflakes
	validate 'from damnit_ctx import Group, Variable\n\n@Variable()\ndef a(run, b: "var#b", n: "meta#run_number", s: "mymdc#sample_name"):\n    return b, n, s\n\n@Group()\nclass G:\n    @Variable()\n    def c(self, run, e: "self#pulse_energy"):\n        return e\n'
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "var outside an annotation is still an undefined name" {
	needs_pyflakes
	validate 'def a(run):\n    return var\n'
	[ "$status" -eq 1 ]
	[ "$output" = "context.py:2:12: undefined name 'var'" ]
}

@test "an unused import is accepted with a warning" {
	needs_pyflakes
	validate 'import numpy as np\nx = 1\n'
	[ "$status" -eq 0 ]
	[ "$output" = "context.py:1:1: 'numpy as np' imported but unused" ]
}

@test "an unused variable and a star import are warnings, not errors" {
	needs_pyflakes
	validate 'from numpy import *\n\ndef f(run):\n    unused = 1\n    return mean(run)\n'
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[ "${lines[0]}" = "context.py:1:1: 'from numpy import *' used; unable to detect undefined names" ]
	[ "${lines[1]}" = "context.py:4:5: local variable 'unused' is assigned to but never used" ]
	[ "${lines[2]}" = "context.py:5:12: 'mean' may be undefined, or defined from star imports: numpy" ]
}

@test "errors refuse even beside warnings, in order of line" {
	needs_pyflakes
	validate 'import os\n\ndef f(run):\n    return nothing\n'
	[ "$status" -eq 1 ]
	[ "${lines[0]}" = "context.py:1:1: 'os' imported but unused" ]
	[ "${lines[1]}" = "context.py:4:12: undefined name 'nothing'" ]
}

@test "content that is not UTF-8 is refused at line 1" {
	validate 'x = "\xff"\n'
	[ "$status" -eq 1 ]
	[[ "$output" == "context.py:1:6: not UTF-8: byte 0xff cannot be decoded"* ]]
	all_findings
}

@test "a byte that is not UTF-8 further down is placed at its line" {
	validate 'x = 1\n\ny = "caf\xe9"\n'
	[ "$status" -eq 1 ]
	[[ "$output" == "context.py:3:9: not UTF-8: byte 0xe9 cannot be decoded"* ]]
}

@test "a UTF-8 byte order mark is accepted" {
	validate '\xef\xbb\xbfx = "\xc3\xa9"\n'
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "a NUL byte is refused at its place" {
	validate 'x = 1\ny = 2\0\n'
	[ "$status" -eq 1 ]
	[ "$output" = "context.py:2:6: source code cannot contain null bytes" ]
}

@test "FILE_NAME names the file in the findings" {
	FILE_NAME=other_context.py validate 'def f(:\n'
	[ "$status" -eq 1 ]
	[ "$output" = "other_context.py:1:7: invalid syntax" ]
}

@test "the code is checked, never run" {
	local ran="$BATS_TEST_TMPDIR/ran"
	validate "open('$ran', 'w').write('x')\nimport os\nos.system('touch $ran')\n"
	[ ! -e "$ran" ]
	[ "$status" -eq 0 ]
}

@test "nothing a user sends gets a traceback" {
	local content
	for content in 'def f(:\n' 'x = "\xff\xfe"\n' '\0' '\xc3' \
	    'x = (1,\n' '"\\N{nonsense}"\n' 'x = "\\d"\n' 'if x is 1: pass\n' \
	    'x = 1 +\\\n' '\r\r\n\tx\n' 'nonlocal x\n' \
	    'from __future__ import braces\n' 'def f(a, a): pass\n' \
	    "x: 'a b' = 1\n" '\x0c\xe2\x80\xa8x = 1\n'; do
		validate "$content"
		[ "$status" -le 1 ] || { echo "status $status for $content"; return 1; }
		all_findings || { echo "for: $content"; return 1; }
	done
	printf 'x = %s1\n' "$(printf 'not %.0s' $(seq 5000))" >"$IN"
	run "$VALIDATE" <"$IN"
	[ "$status" -eq 1 ]
	[ "$output" = "context.py:1: nested too deeply: Python cannot parse it" ]
}

@test "without pyflakes the syntax is still checked and names are not" {
	local hide="import sys; sys.modules['pyflakes'] = None; exec(open(sys.argv[1]).read())"
	printf 'import os\nprint(undefined_thing)\n' >"$IN"
	run /usr/bin/python3 -I -c "$hide" "$VALIDATE" <"$IN"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	printf 'def f(:\n' >"$IN"
	run /usr/bin/python3 -I -c "$hide" "$VALIDATE" <"$IN"
	[ "$status" -eq 1 ]
	[ "$output" = "context.py:1:7: invalid syntax" ]
}

@test "running out of memory is no verdict on the file: exit 2, never a refusal for nesting" {
	python3 -c 'import sys; sys.stdout.write("x=1\n" * (4 << 20))' >"$IN"
	run bash -c 'ulimit -d 262144 && exec env -i PATH="$PATH" "$1" <"$2"' \
	    - "$VALIDATE" "$IN"
	[ "$status" -eq 2 ]
	[[ "$output" == "context.py:1: validate-context failed: MemoryError"* ]]
	[[ "$output" != *"nested too deeply"* ]]
}
