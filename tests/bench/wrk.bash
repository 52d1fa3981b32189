# Sourced by the HTTP benchmarks (http, fs): wrk runs of named URLs taken
# in rounds, their medians and ratios, and the rows they are printed in.
# The caller sets threads, connections, seconds and url[NAME], and login
# (a request header, or empty), and defines fail.
# shellcheck shell=bash disable=SC2154

# measure NAME: one wrk run; appends its requests per second to rps[NAME]
# and adds to bad[NAME] the answers that were not 2xx/3xx, plus socket
# errors.
declare -A rps bad
measure() {
	local out errors r
	out=$(wrk -t"$threads" -c"$connections" -d"${seconds}s" \
		${login:+-H "$login"} "${url[$1]}") ||
		fail "wrk failed on ${url[$1]}: $out"
	r=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
	[ -n "$r" ] || fail "no Requests/sec from wrk: $out"
	rps[$1]="${rps[$1]:-}${rps[$1]:+ }$r"
	errors=$(awk '/Non-2xx or 3xx responses:/ { n += $NF }
		/Socket errors:/ { gsub(",", ""); n += $4 + $6 + $8 + $10 }
		END { print n + 0 }' <<<"$out")
	bad[$1]=$((${bad[$1]:-0} + errors))
}

# median VALUES...: the median (the lower middle of an even count).
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { print v[int((NR + 1) / 2)] }'
}

# ratios A B FORMAT: each round's rps[A] / rps[B], in order.
ratios() {
	local -a a b
	local i
	read -r -a a <<<"${rps[$1]}"
	read -r -a b <<<"${rps[$2]}"
	for i in "${!a[@]}"; do
		awk -v x="${a[$i]}" -v y="${b[$i]}" -v f="$3" \
			'BEGIN { printf f "\n", x / y }'
	done
}

verdict() {
	if awk -v v="$1" -v l="$2" 'BEGIN { exit !(v >= l) }'; then
		echo ok
	else
		echo MISSED
	fi
}

row() {
	printf '%-48s %14s   %-10s %s\n' "$@"
}

# ratio_row LABEL A B TARGET FORMAT
ratio_row() {
	local -a each
	local r
	mapfile -t each < <(ratios "$2" "$3" "$5")
	r=$(median "${each[@]}")
	row "$1" "$r" ">= $4" "$(verdict "$r" "$4") (${each[*]})"
}
