//! Reading the BPF verifier's log: people get its verdict in one line, the
//! whole log only when they ask.

/// The verifier's final verdict: the line it printed right after the
/// instruction it refused (newer kernels follow it with a multi-line
/// explanation, all kernels with statistics). Without an instruction dump
/// (a refusal before the walk), the last line before the statistics.
pub fn verdict(log: &str) -> Option<String> {
    let lines: Vec<&str> = log.lines().map(str::trim).collect();
    let after_last_insn = lines
        .iter()
        .rposition(|l| is_instruction(l))
        .and_then(|i| {
            lines[i + 1..]
                .iter()
                .find(|l| !l.is_empty() && !l.starts_with(';'))
        })
        .filter(|l| !starts_stats(l) && !is_statistic(l));
    if let Some(line) = after_last_insn {
        return Some(line.to_string());
    }
    // The statistics block ends the log; its first line is the earliest
    // statistic at or after the last "verification time"/"processed" line.
    let mut end = lines
        .iter()
        .rposition(|l| starts_stats(l))
        .unwrap_or(lines.len());
    while end > 0 && (starts_stats(lines[end - 1]) || is_statistic(lines[end - 1])) {
        end -= 1;
    }
    lines[..end]
        .iter()
        .rev()
        .find(|l| !l.is_empty())
        .map(|l| l.to_string())
}

/// `11: (79) r1 = *(u64 *)(r0 +0)`, or a state line `11: R0=...`.
fn is_instruction(line: &str) -> bool {
    line.split_once(": ")
        .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn starts_stats(line: &str) -> bool {
    line.starts_with("verification time") || line.starts_with("processed ")
}

fn is_statistic(line: &str) -> bool {
    [
        "stack depth",
        "max_states_per_insn",
        "subprog ",
        "-- END PROG LOAD LOG --",
    ]
    .iter()
    .any(|p| line.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::verdict;

    #[test]
    fn takes_the_last_meaningful_line() {
        // The tail of 7.3's refusal of the direct siginfo load.
        let log = "41: (61) r3 = *(u32 *)(r3 +12)\nR3 invalid mem access 'scalar'\n\
                   processed 1070 insns (limit 1000000) max_states_per_insn 4 total_states 60 \
                   peak_states 60 mark_read 17\n";
        assert_eq!(
            verdict(log).as_deref(),
            Some("R3 invalid mem access 'scalar'")
        );
        // 5.10 without bpf_get_current_task_btf.
        let log = "0: (85) call unknown#158\ninvalid func unknown#158\n\
                   verification time 20 usec\nstack depth 0\n";
        assert_eq!(verdict(log).as_deref(), Some("invalid func unknown#158"));
        // 7.x adds per-subprogram lines to the statistics.
        let log = "11: (79) r1 = *(u64 *)(r0 +0)\nR0 invalid mem access 'scalar'\n\
                   verification time 208 usec\nstack depth 0+0\n\
                   subprog 1 (memset) static insns_self 0 insns_total 0 stack 0\n\
                   processed 11 insns (limit 1000000) max_states_per_insn 0\n";
        assert_eq!(
            verdict(log).as_deref(),
            Some("R0 invalid mem access 'scalar'")
        );
        // 7.3 explains a refusal at length after the verdict.
        let log = "10: (85) call bpf_ktime_get_ns#5     ; R0=scalar()\n\
                   11: (79) r1 = *(u64 *)(r0 +0)\nR0 invalid mem access 'scalar'\n\n\
                   Instruction context:\n  >>> 50 |     fun()\n\
                   Suggestion:\n  Preserve a pointer-valued register where needed\n\
                   verification time 11517 usec\nstack depth max 0\n\
                   processed 11 insns (limit 1000000)\n";
        assert_eq!(
            verdict(log).as_deref(),
            Some("R0 invalid mem access 'scalar'")
        );
        // Refused before the walk: no instruction dump.
        assert_eq!(
            verdict("arg#0 type is not a struct\nprocessed 0 insns\n").as_deref(),
            Some("arg#0 type is not a struct")
        );
        assert_eq!(verdict("\n\n"), None);
    }
}
