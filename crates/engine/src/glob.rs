//! Glob-style patterns as KEYS, SCAN MATCH and (later) PSUBSCRIBE understand them: `*`, `?`,
//! `[abc]`, `[^abc]`, `[a-z]` and `\` to escape. Written here rather than taken from a crate
//! because Redis's dialect (`[^`, reversed ranges, a trailing `\`) differs from shell globs.

/// Matches `text` against `pattern`. Runs in O(pattern × text) at worst: on a mismatch after a
/// `*`, only the most recent `*` is retried, which is enough for glob patterns.
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut retry: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    retry = Some((p, t + 1));
                    continue;
                }
                b'?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                b'[' => {
                    let (matched, next) = class(pattern, p + 1, text[t]);
                    if matched {
                        p = next;
                        t += 1;
                        continue;
                    }
                }
                b'\\' if p + 1 < pattern.len() => {
                    if pattern[p + 1] == text[t] {
                        p += 2;
                        t += 1;
                        continue;
                    }
                }
                c => {
                    if c == text[t] {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
            }
        }
        match retry {
            Some((rp, rt)) if rt <= text.len() => {
                p = rp;
                t = rt;
                retry = Some((rp, rt + 1));
            }
            _ => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the class starting at `pattern[at]` (just after `[`). Returns whether it
/// matched and where the pattern continues after `]`; an unterminated class runs to the end.
fn class(pattern: &[u8], mut at: usize, c: u8) -> (bool, usize) {
    let negate = pattern.get(at) == Some(&b'^');
    if negate {
        at += 1;
    }
    let mut matched = false;
    loop {
        match pattern.get(at) {
            None => break,
            Some(b']') => {
                at += 1;
                break;
            }
            Some(b'\\') if at + 1 < pattern.len() => {
                matched |= pattern[at + 1] == c;
                at += 2;
            }
            Some(&low)
                if pattern.get(at + 1) == Some(&b'-')
                    && at + 2 < pattern.len()
                    && pattern[at + 2] != b']' =>
            {
                let high = pattern[at + 2];
                let (low, high) = if low <= high {
                    (low, high)
                } else {
                    (high, low)
                };
                matched |= (low..=high).contains(&c);
                at += 3;
            }
            Some(&other) => {
                matched |= other == c;
                at += 1;
            }
        }
    }
    (matched != negate, at)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn patterns_follow_redis() {
        let m = |p: &str, t: &str| glob_match(p.as_bytes(), t.as_bytes());
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"), "a reversed range still matches");
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("k*:*:end", "k1:x:y:end"));
        assert!(!m("k*:*:end", "k1:x:y:en"));
        assert!(m("**a", "a"));
        assert!(!m("a", "ab"));
        assert!(!m("ab", "a"));
    }

    #[test]
    fn pathological_patterns_stay_fast() {
        let text = vec![b'a'; 10_000];
        let pattern = b"*a*a*a*a*a*a*a*a*a*a*b";
        assert!(!glob_match(pattern, &text));
    }
}
