//! Each item's fragments of a recommendation answer, rendered once at load: an answer is
//! then assembled by copying bytes instead of JSON-escaping the same ids on every request
//! (escaping was the largest single cost of the recommend handler under wrk).

use crate::models::CustomerBase;

/// Per item: `{"item_id":"…","score":` and `,"category":"…"}` (or `}` without category).
#[derive(Debug, Default)]
pub struct ItemJson {
    heads: Vec<Box<[u8]>>,
    tails: Vec<Box<[u8]>>,
}

impl ItemJson {
    /// Renders the fragments of every item of `base`.
    pub fn new(base: &CustomerBase) -> Result<ItemJson, serde_json::Error> {
        let mut heads = Vec::with_capacity(base.item_ids.len());
        let mut tails = Vec::with_capacity(base.item_ids.len());
        for (i, id) in base.item_ids.iter().enumerate() {
            let mut head = b"{\"item_id\":".to_vec();
            serde_json::to_writer(&mut head, id)?;
            head.extend_from_slice(b",\"score\":");
            let mut tail = Vec::new();
            if let Some(cat) = base.category_of(i as u32) {
                tail.extend_from_slice(b",\"category\":");
                serde_json::to_writer(&mut tail, cat)?;
            }
            tail.push(b'}');
            heads.push(head.into_boxed_slice());
            tails.push(tail.into_boxed_slice());
        }
        Ok(ItemJson { heads, tails })
    }

    /// The two fragments of `item`, or None when the bundle has no such item.
    pub fn get(&self, item: u32) -> Option<(&[u8], &[u8])> {
        Some((
            self.heads.get(item as usize)?,
            self.tails.get(item as usize)?,
        ))
    }
}
