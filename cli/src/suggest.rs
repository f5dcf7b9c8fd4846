//! "Did you mean": the candidates closest to what the user typed, for the
//! messages of a name or file that a recording does not hold.

/// Most candidates a message lists.
pub const MAX_SHOWN: usize = 5;

/// Levenshtein distance between two strings, by characters, with one row of
/// memory. Candidates are names and file names: short.
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = if ca == *cb {
                diag
            } else {
                1 + diag.min(up).min(row[j])
            };
            diag = up;
        }
    }
    row[b.len()]
}

/// The `MAX_SHOWN` candidates closest to `wanted` by `key` (ties in the
/// candidates' order), compared case-insensitively; a candidate that
/// contains what was typed, or is contained in it (three letters or more),
/// comes first.
pub fn closest<'a, T>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a T>,
    key: impl Fn(&T) -> &str,
) -> Vec<&'a T>
where
    T: ?Sized + 'a,
{
    let w = wanted.to_lowercase();
    let mut scored: Vec<(usize, usize, &T)> = candidates
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let k = key(c).to_lowercase();
            // Containment says more than distance, but not for a name of
            // one or two letters (`i` is in every word).
            let contained = (w.len() >= 3 && k.contains(&w)) || (k.len() >= 3 && w.contains(&k));
            let d = if contained { 0 } else { distance(&w, &k) };
            (d, i, c)
        })
        .collect();
    scored.sort_by_key(|(d, i, _)| (*d, *i));
    scored
        .into_iter()
        .take(MAX_SHOWN)
        .map(|(_, _, c)| c)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("total", "total"), 0);
        assert_eq!(distance("héllo", "hello"), 1);
    }

    #[test]
    fn closest_first() {
        let names = ["zebra", "totl", "total_sum", "t", "Total"];
        let got = closest("total", names.iter(), |s: &&str| s);
        assert_eq!(got[..3], [&"total_sum", &"Total", &"totl"]);
        assert_eq!(got.len(), MAX_SHOWN);
    }
}
