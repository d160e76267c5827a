//! Sorted set storage. (Placeholder: replaced by the order-statistics tree.)

use bytes::Bytes;

#[derive(Debug, Clone, Default)]
pub struct ZSet {
    members: Vec<(f64, Bytes)>,
}

impl ZSet {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn len(&self) -> usize {
        self.members.len()
    }
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
    pub fn max_member_len(&self) -> usize {
        self.members.iter().map(|(_, m)| m.len()).max().unwrap_or(0)
    }
}
