//! Reading the BPF verifier's log: people get its verdict in one line, the
//! whole log only when they ask.

/// The verifier's final verdict: the last line that is not a statistic
/// ("processed N insns", "verification time", ...) or blank.
pub fn verdict(log: &str) -> Option<String> {
    log.lines()
        .rev()
        .map(str::trim)
        .find(|line| {
            !line.is_empty()
                && !line.starts_with("processed ")
                && !line.starts_with("verification time")
                && !line.starts_with("stack depth")
                && !line.starts_with("max_states_per_insn")
                && !line.starts_with("-- END PROG LOAD LOG --")
        })
        .map(str::to_string)
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
        assert_eq!(verdict("\n\n"), None);
    }
}
