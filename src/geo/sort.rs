//! Ordering search results by distance, in exactly the order Redis puts them.
//!
//! Points at the same distance (several members at one coordinate are common) are "equal", and
//! the order equal points come out in depends on the sorting algorithm. Redis uses two:
//!
//! * without COUNT, or when COUNT covers every result, C's `qsort`, which in glibc is a
//!   top-down merge sort and therefore stable ([`merge_sort`]);
//! * when COUNT asks for fewer than all results, its own `pqsort`, a Bentley–McIlroy quicksort
//!   that only recurses into partitions overlapping the wanted prefix, and is not stable
//!   ([`partial_quicksort`]).
//!
//! Both are written out here (over indices, so that swapping is cheap) so that ties come out
//! in the same order as in Redis.

use std::cmp::Ordering;

/// glibc's `msort`: split in half (the left half is the smaller one for odd lengths), sort
/// each half, merge taking from the left unless the right element is strictly smaller.
pub fn merge_sort<T: Copy, F: FnMut(&T, &T) -> Ordering>(v: &mut [T], cmp: &mut F) {
    let mut tmp = Vec::with_capacity(v.len());
    merge_sort_with(v, &mut tmp, cmp);
}

fn merge_sort_with<T: Copy, F: FnMut(&T, &T) -> Ordering>(v: &mut [T], tmp: &mut Vec<T>, cmp: &mut F) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    merge_sort_with(&mut v[..n1], tmp, cmp);
    merge_sort_with(&mut v[n1..], tmp, cmp);
    tmp.clear();
    let (mut i, mut j) = (0, n1);
    while i < n1 && j < n {
        if cmp(&v[i], &v[j]) != Ordering::Greater {
            tmp.push(v[i]);
            i += 1;
        } else {
            tmp.push(v[j]);
            j += 1;
        }
    }
    // What is left of the right half is already in place.
    tmp.extend_from_slice(&v[i..n1]);
    v[..tmp.len()].copy_from_slice(tmp);
}

/// Redis's `pqsort`: sorts `v` enough that positions `lrange..=rrange` hold what a full sort
/// would put there (and everything before them is no greater).
pub fn partial_quicksort<T: Copy, F: FnMut(&T, &T) -> Ordering>(
    v: &mut [T],
    cmp: &mut F,
    lrange: usize,
    rrange: usize,
) {
    quicksort_range(v, 0, v.len(), cmp, lrange, rrange);
}

/// The index of the median of three elements, as the Bentley–McIlroy `med3`.
fn med3<T: Copy, F: FnMut(&T, &T) -> Ordering>(v: &[T], a: usize, b: usize, c: usize, cmp: &mut F) -> usize {
    if cmp(&v[a], &v[b]) == Ordering::Less {
        if cmp(&v[b], &v[c]) == Ordering::Less {
            b
        } else if cmp(&v[a], &v[c]) == Ordering::Less {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) == Ordering::Greater {
        b
    } else if cmp(&v[a], &v[c]) == Ordering::Less {
        a
    } else {
        c
    }
}

/// Swaps the `n` elements starting at `a` with the `n` starting at `b`, front to back.
fn swap_blocks<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        v.swap(a + i, b + i);
    }
}

/// Sorts `v[lo..lo + n]`, recursing only into partitions that overlap `lrange..=rrange`.
fn quicksort_range<T: Copy, F: FnMut(&T, &T) -> Ordering>(
    v: &mut [T],
    mut lo: usize,
    mut n: usize,
    cmp: &mut F,
    lrange: usize,
    rrange: usize,
) {
    // Whether the partition [start, start + len) overlaps the wanted range.
    let wanted = |start: usize, len: usize| {
        let end = start + len - 1;
        !((lrange < start && rrange < start) || (lrange > end && rrange > end))
    };
    loop {
        if n < 7 {
            // Insertion sort for small partitions.
            for m in lo + 1..lo + n {
                let mut l = m;
                while l > lo && cmp(&v[l - 1], &v[l]) == Ordering::Greater {
                    v.swap(l, l - 1);
                    l -= 1;
                }
            }
            return;
        }
        // Pivot: the middle element, the median of three for n > 7, the pseudo-median of
        // nine for n > 40.
        let mut m = lo + n / 2;
        if n > 7 {
            let mut l = lo;
            let mut r = lo + n - 1;
            if n > 40 {
                let d = n / 8;
                l = med3(v, l, l + d, l + 2 * d, cmp);
                m = med3(v, m - d, m, m + d, cmp);
                r = med3(v, r - 2 * d, r - d, r, cmp);
            }
            m = med3(v, l, m, r, cmp);
        }
        v.swap(lo, m);

        // Three-way partition with the pivot at `lo`: elements equal to it gather at both
        // ends (lo+1..a and d+1..), smaller ones after them on the left, larger on the right.
        let (mut a, mut b) = (lo + 1, lo + 1);
        let (mut c, mut d) = (lo + n - 1, lo + n - 1);
        loop {
            while b <= c {
                let o = cmp(&v[b], &v[lo]);
                if o == Ordering::Greater {
                    break;
                }
                if o == Ordering::Equal {
                    v.swap(a, b);
                    a += 1;
                }
                b += 1;
            }
            while b <= c {
                let o = cmp(&v[c], &v[lo]);
                if o == Ordering::Less {
                    break;
                }
                if o == Ordering::Equal {
                    v.swap(c, d);
                    d -= 1;
                }
                c -= 1;
            }
            if b > c {
                break;
            }
            v.swap(b, c);
            b += 1;
            c -= 1;
        }

        // Move the equal elements from the ends into the middle.
        let end = lo + n;
        let r = (a - lo).min(b - a);
        swap_blocks(v, lo, b - r, r);
        let r = (d - c).min(end - d - 1);
        swap_blocks(v, b, end - r, r);

        let left = b - a;
        if left > 1 && wanted(lo, left) {
            quicksort_range(v, lo, left, cmp, lrange, rrange);
        }
        let right = d - c;
        if right > 1 {
            lo = end - right;
            n = right;
            if wanted(lo, n) {
                continue;
            }
        }
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn merge_sort_is_stable() {
        let mut v: Vec<(u32, u32)> = (0..200).map(|i| (i * 7919 % 13, i)).collect();
        merge_sort(&mut v, &mut |a, b| a.0.cmp(&b.0));
        for w in v.windows(2) {
            assert!(w[0].0 < w[1].0 || (w[0].0 == w[1].0 && w[0].1 < w[1].1));
        }
    }

    #[test]
    fn partial_quicksort_orders_the_prefix() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for n in [1usize, 2, 6, 7, 8, 40, 41, 100, 1000] {
            for k in [1usize, 2, 5, 50] {
                if k > n {
                    continue;
                }
                let mut v: Vec<u32> = (0..n).map(|_| rng.gen_range(0..50)).collect();
                let mut sorted = v.clone();
                sorted.sort();
                partial_quicksort(&mut v, &mut |a, b| a.cmp(b), 0, k - 1);
                assert_eq!(&v[..k], &sorted[..k], "n={n} k={k}");
                let mut rest = v.clone();
                rest.sort();
                assert_eq!(rest, sorted);
            }
        }
    }
}
