//! A small reader for kernel BTF (/sys/kernel/btf/vmlinux): just enough to
//! find struct member offsets and a tracepoint's argument count.
//!
//! aya parses BTF too, but does not expose member lookups; this reader keeps
//! only an index of type records and the raw bytes.

use std::{fmt, io::Read as _, path::Path};

use anyhow::{bail, Context as _, Result};

const MAGIC: u16 = 0xeb9f;

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_FWD: u32 = 7;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_FLOAT: u32 = 16;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

/// Why a BTF lookup failed. Callers branch on `MissingMember` to fall back
/// to older field names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BtfError {
    Malformed(String),
    MissingType(String),
    MissingMember { ty: String, member: String },
}

impl fmt::Display for BtfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BtfError::Malformed(why) => write!(f, "malformed BTF: {why}"),
            BtfError::MissingType(name) => write!(f, "type `{name}` not found in kernel BTF"),
            BtfError::MissingMember { ty, member } => {
                write!(f, "`{ty}` has no member `{member}` in kernel BTF")
            }
        }
    }
}

impl std::error::Error for BtfError {}

#[derive(Clone, Copy)]
struct TypeRec {
    name_off: u32,
    info: u32,
    size_or_type: u32,
    /// Byte offset of the record's trailing data within the type section.
    extra: usize,
}

impl TypeRec {
    fn kind(&self) -> u32 {
        (self.info >> 24) & 0x1f
    }
    fn vlen(&self) -> usize {
        (self.info & 0xffff) as usize
    }
    fn kind_flag(&self) -> bool {
        self.info >> 31 == 1
    }
}

/// Borrows the BTF bytes: the loader hands the same buffer to aya, so the
/// (several MB) file is held in memory once.
pub struct Btf<'a> {
    types: &'a [u8],
    strings: &'a [u8],
    /// Index by type id; id 0 is `void` and has no record.
    recs: Vec<TypeRec>,
}

impl<'a> Btf<'a> {
    pub fn parse(data: &'a [u8]) -> Result<Btf<'a>, BtfError> {
        let u32_at = |off: usize| -> Result<u32, BtfError> {
            data.get(off..off + 4)
                .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
                .ok_or_else(|| BtfError::Malformed("truncated header".into()))
        };
        if data.len() < 24 || u16::from_le_bytes([data[0], data[1]]) != MAGIC {
            return Err(BtfError::Malformed(
                "bad magic (not little-endian BTF)".into(),
            ));
        }
        let hdr_len = u32_at(4)? as usize;
        let section = |off: usize, len: usize| -> Result<&'a [u8], BtfError> {
            let start = hdr_len.checked_add(off);
            let end = start.and_then(|s| s.checked_add(len));
            match (start, end) {
                (Some(s), Some(e)) if e <= data.len() => Ok(&data[s..e]),
                _ => Err(BtfError::Malformed("section out of bounds".into())),
            }
        };
        let types = section(u32_at(8)? as usize, u32_at(12)? as usize)?;
        let strings = section(u32_at(16)? as usize, u32_at(20)? as usize)?;
        let recs = index_types(types)?;
        Ok(Btf {
            types,
            strings,
            recs,
        })
    }

    fn rec(&self, id: u32) -> Result<TypeRec, BtfError> {
        self.recs
            .get(id as usize)
            .copied()
            .filter(|_| id != 0)
            .ok_or_else(|| BtfError::Malformed(format!("type id {id} out of range")))
    }

    fn name(&self, name_off: u32) -> &[u8] {
        let rest = self.strings.get(name_off as usize..).unwrap_or_default();
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        &rest[..end]
    }

    fn word(&self, off: usize) -> u32 {
        u32::from_le_bytes(self.types[off..off + 4].try_into().unwrap())
    }

    /// The id of the first type of `kind` named `name`.
    fn find(&self, name: &str, kind: u32) -> Result<u32, BtfError> {
        self.recs
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, r)| r.kind() == kind && self.name(r.name_off) == name.as_bytes())
            .map(|(id, _)| id as u32)
            .ok_or_else(|| BtfError::MissingType(name.to_string()))
    }

    /// Follows typedefs and qualifiers to the underlying type.
    fn skip_modifiers(&self, mut id: u32) -> Result<u32, BtfError> {
        for _ in 0..32 {
            let r = self.rec(id)?;
            match r.kind() {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = r.size_or_type
                }
                _ => return Ok(id),
            }
        }
        Err(BtfError::Malformed("typedef chain too long".into()))
    }

    /// Finds `member` in the struct/union `id`, looking through anonymous
    /// struct/union members. Returns (bit offset, member type id).
    fn member(&self, id: u32, member: &str, depth: u32) -> Result<Option<(u32, u32)>, BtfError> {
        let r = self.rec(id)?;
        if !matches!(r.kind(), KIND_STRUCT | KIND_UNION) || depth > 8 {
            return Ok(None);
        }
        for i in 0..r.vlen() {
            let at = r.extra + i * 12;
            let (name_off, ty, raw_off) = (self.word(at), self.word(at + 4), self.word(at + 8));
            let bits = if r.kind_flag() {
                raw_off & 0xff_ffff
            } else {
                raw_off
            };
            let name = self.name(name_off);
            if name == member.as_bytes() {
                return Ok(Some((bits, ty)));
            }
            if name.is_empty() {
                let inner = self.skip_modifiers(ty)?;
                if let Some((off, ty)) = self.member(inner, member, depth + 1)? {
                    return Ok(Some((bits.saturating_add(off), ty)));
                }
            }
        }
        Ok(None)
    }

    /// Byte offset of `path` (e.g. `["sa", "sa_handler"]`) in `struct ty`.
    pub fn member_offset(&self, ty: &str, path: &[&str]) -> Result<u32, BtfError> {
        Ok(self.member_bit_offset(ty, path)? / 8)
    }

    /// Bit offset of `path` in `struct ty` (for bitfields such as
    /// `task_struct.in_execve`).
    pub fn member_bit_offset(&self, ty: &str, path: &[&str]) -> Result<u32, BtfError> {
        let mut id = self.find(ty, KIND_STRUCT)?;
        let mut total: u32 = 0;
        let mut within = ty.to_string();
        for member in path {
            let resolved = self.skip_modifiers(id)?;
            let (off, member_ty) =
                self.member(resolved, member, 0)?
                    .ok_or_else(|| BtfError::MissingMember {
                        ty: within.clone(),
                        member: member.to_string(),
                    })?;
            total = total.saturating_add(off);
            id = member_ty;
            within = format!("{within}.{member}");
        }
        Ok(total)
    }

    /// Size in bytes of `struct ty`.
    pub fn struct_size(&self, ty: &str) -> Result<u32, BtfError> {
        Ok(self.rec(self.find(ty, KIND_STRUCT)?)?.size_or_type)
    }

    /// Whether the kernel has a function named `name` (a global one: BTF
    /// lists no static function that was inlined away).
    pub fn has_function(&self, name: &str) -> bool {
        self.find(name, KIND_FUNC).is_ok()
    }

    /// Whether the kernel has a global or per-CPU variable named `name`
    /// (BTF lists the per-CPU ones).
    pub fn has_variable(&self, name: &str) -> bool {
        self.find(name, KIND_VAR).is_ok()
    }

    /// The type id a tp_btf program names to attach to `tracepoint`: its
    /// `btf_trace_<name>` typedef.
    pub fn tracepoint_type_id(&self, tracepoint: &str) -> Result<u32, BtfError> {
        self.find(&format!("btf_trace_{tracepoint}"), KIND_TYPEDEF)
    }

    /// A BTF blob for aya, which names a tp_btf program's tracepoint by the
    /// id of its `btf_trace_<name>` typedef and takes that from a parsed
    /// BTF: the typedefs of `tracepoints` at their ids here, every other
    /// type up to the last of them an anonymous `void *`. aya parses it in
    /// a fraction of the time the whole of vmlinux BTF takes it (about
    /// 15 ms of start-up's CPU). Tracepoints this BTF lacks are left out.
    pub fn tracepoint_stub(&self, tracepoints: &[&str]) -> Vec<u8> {
        let mut strings = vec![0u8];
        let mut named = Vec::new();
        for tp in tracepoints {
            if let Ok(id) = self.tracepoint_type_id(tp) {
                named.push((id, strings.len() as u32));
                strings.extend_from_slice(format!("btf_trace_{tp}\0").as_bytes());
            }
        }
        named.sort_unstable();
        let last = named.last().map_or(0, |&(id, _)| id);
        let mut types = Vec::with_capacity(12 * last as usize);
        let mut named = named.into_iter().peekable();
        for id in 1..=last {
            let (name_off, kind) = match named.next_if(|&(at, _)| at == id) {
                Some((_, name_off)) => (name_off, KIND_TYPEDEF),
                None => (0, KIND_PTR),
            };
            for word in [name_off, kind << 24, 0] {
                types.extend(word.to_le_bytes());
            }
        }
        let mut out = Vec::with_capacity(24 + types.len() + strings.len());
        out.extend(MAGIC.to_le_bytes());
        out.extend([1u8, 0]);
        let (types_len, strings_len) = (types.len() as u32, strings.len() as u32);
        for word in [24, 0, types_len, types_len, strings_len] {
            out.extend(word.to_le_bytes());
        }
        out.extend(types);
        out.extend(strings);
        out
    }

    /// Number of arguments a raw tracepoint passes, from the BTF of its
    /// `btf_trace_<name>` typedef (a pointer to a function whose first
    /// parameter is the `void *` context, which is not counted).
    pub fn tracepoint_arity(&self, tracepoint: &str) -> Result<usize, BtfError> {
        let name = format!("btf_trace_{tracepoint}");
        let id = self.find(&name, KIND_TYPEDEF)?;
        let ptr = self.rec(self.skip_modifiers(id)?)?;
        if ptr.kind() != KIND_PTR {
            return Err(BtfError::Malformed(format!("{name} is not a pointer")));
        }
        let proto = self.rec(self.skip_modifiers(ptr.size_or_type)?)?;
        if proto.kind() != KIND_FUNC_PROTO || proto.vlen() == 0 {
            return Err(BtfError::Malformed(format!(
                "{name} is not a function pointer"
            )));
        }
        Ok(proto.vlen() - 1)
    }
}

/// Walks the type section once, recording where each type's record starts.
fn index_types(types: &[u8]) -> Result<Vec<TypeRec>, BtfError> {
    let placeholder = TypeRec {
        name_off: 0,
        info: 0,
        size_or_type: 0,
        extra: 0,
    };
    let mut recs = vec![placeholder];
    let mut at = 0;
    while at < types.len() {
        let word = |o: usize| -> Result<u32, BtfError> {
            types
                .get(o..o + 4)
                .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
                .ok_or_else(|| BtfError::Malformed(format!("type record at {o} truncated")))
        };
        let rec = TypeRec {
            name_off: word(at)?,
            info: word(at + 4)?,
            size_or_type: word(at + 8)?,
            extra: at + 12,
        };
        let vlen = rec.vlen();
        let extra = match rec.kind() {
            KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
            KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
            | KIND_FUNC | KIND_FLOAT | KIND_TYPE_TAG => 0,
            KIND_ARRAY => 12,
            KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => 12 * vlen,
            KIND_ENUM | KIND_FUNC_PROTO => 8 * vlen,
            kind => return Err(BtfError::Malformed(format!("unknown type kind {kind}"))),
        };
        at = rec.extra + extra;
        if at > types.len() {
            return Err(BtfError::Malformed("type section truncated".into()));
        }
        recs.push(rec);
    }
    Ok(recs)
}

/// The kernel's BTF, read once: our reader resolves offsets from it, aya
/// parses it for loading the tp_btf programs.
pub fn read_kernel_btf(path: &Path) -> Result<Vec<u8>> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "kernel BTF not found at {}: tracer needs a kernel built with \
             CONFIG_DEBUG_INFO_BTF=y (most distribution kernels since 5.x are), \
             or a BTF file passed with --btf",
            path.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    // sysfs reports BTF as a regular file; a device or FIFO could block
    // forever or never end.
    if !meta.is_file() {
        bail!(
            "{} is not a regular file: --btf takes a BTF file",
            path.display()
        );
    }
    if meta.len() > MAX_BTF {
        bail!(
            "{} is {} bytes: no kernel's BTF is over {} MiB",
            path.display(),
            meta.len(),
            MAX_BTF >> 20
        );
    }
    let mut data = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_BTF + 1).read_to_end(&mut data))
        .with_context(|| format!("reading {}", path.display()))?;
    if data.len() as u64 > MAX_BTF {
        bail!(
            "{} grew past {} MiB while read",
            path.display(),
            MAX_BTF >> 20
        );
    }
    Ok(data)
}

/// vmlinux BTF is 5-10 MiB; this bounds what a wrong --btf can cost.
const MAX_BTF: u64 = 256 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a tiny BTF blob: `struct outer { int a; struct { int b; }; }`
    /// plus `typedef void (*btf_trace_tp)(void *, int, int)`.
    fn sample() -> Vec<u8> {
        let strings = b"\0int\0outer\0a\0b\0btf_trace_tp\0".to_vec();
        let (s_int, s_outer, s_a, s_b, s_tp) = (1u32, 5u32, 11u32, 13u32, 15u32);
        let mut t: Vec<u32> = Vec::new();
        // 1: int
        t.extend([s_int, KIND_INT << 24, 4, 32]);
        // 2: anonymous struct { int b; } (b at bit 0)
        t.extend([0, (KIND_STRUCT << 24) | 1, 4, s_b, 1, 0]);
        // 3: struct outer { int a @0; <anon> @32 bits }
        t.extend([s_outer, (KIND_STRUCT << 24) | 2, 8, s_a, 1, 0, 0, 2, 32]);
        // 4: func proto (void *, int, int) -> void
        t.extend([0, (KIND_FUNC_PROTO << 24) | 3, 0, 0, 0, 0, 1, 0, 1]);
        // 5: pointer to 4; 6: typedef btf_trace_tp -> 5
        t.extend([0, KIND_PTR << 24, 4]);
        t.extend([s_tp, KIND_TYPEDEF << 24, 5]);
        let types: Vec<u8> = t.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut out = Vec::new();
        out.extend(MAGIC.to_le_bytes());
        out.extend([1u8, 0]);
        for w in [
            24u32,
            0,
            types.len() as u32,
            types.len() as u32,
            strings.len() as u32,
        ] {
            out.extend(w.to_le_bytes());
        }
        out.extend(types);
        out.extend(strings);
        out
    }

    #[test]
    fn finds_members_through_anonymous_structs() {
        let blob = sample();
        let btf = Btf::parse(&blob).expect("sample parses");
        assert_eq!(btf.member_offset("outer", &["a"]), Ok(0));
        assert_eq!(btf.member_offset("outer", &["b"]), Ok(4));
        assert_eq!(
            btf.member_offset("outer", &["c"]),
            Err(BtfError::MissingMember {
                ty: "outer".into(),
                member: "c".into()
            })
        );
        assert_eq!(btf.tracepoint_arity("tp"), Ok(2));
    }

    #[test]
    fn a_tracepoint_stub_keeps_the_typedef_ids() {
        let blob = sample();
        let btf = Btf::parse(&blob).unwrap();
        let stub = btf.tracepoint_stub(&["tp", "absent"]);
        let parsed = Btf::parse(&stub).expect("the stub parses");
        assert_eq!(parsed.tracepoint_type_id("tp"), Ok(6));
        assert_eq!(parsed.recs.len(), 7, "types 1 to 6, and void");
        assert!(parsed.tracepoint_type_id("absent").is_err());
        assert!(
            aya::Btf::parse(&stub, aya::Endianness::Little).is_ok(),
            "aya parses it"
        );
    }

    #[test]
    fn rejects_garbage_and_truncation() {
        assert!(Btf::parse(b"not btf at all, definitely not").is_err());
        let blob = sample();
        for cut in 0..blob.len() {
            // Never a panic; a cut inside the sections is an error.
            let _ = Btf::parse(&blob[..cut]);
        }
        assert!(Btf::parse(&blob[..blob.len() - 40]).is_err());
    }
}
