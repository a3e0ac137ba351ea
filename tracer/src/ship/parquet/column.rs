//! Typed Arrow columns that pad themselves: a row sets only the columns
//! its event has, and [`Column::pad`] makes every other one null, so no
//! event kind has to name the columns it lacks.

use std::sync::Arc;

use arrow_array::{
    builder::{
        ArrayBuilder, BinaryBuilder, BooleanBuilder, Int32Builder, Int64Builder, ListBuilder,
        StringBuilder, StringDictionaryBuilder, StructBuilder, TimestampNanosecondBuilder,
    },
    types::Int32Type,
    ArrayRef,
};
use arrow_schema::{DataType, Field, Fields, TimeUnit};

use crate::model::{tasks::Ancestor, text};

/// One column being filled, a row group at a time.
pub(super) trait Column: Default {
    fn len(&self) -> usize;
    fn append_null(&mut self);
    fn finish(&mut self) -> ArrayRef;
    fn data_type() -> DataType;
    /// Null where the row just ended set nothing.
    fn pad(&mut self, rows: usize) {
        if self.len() < rows {
            self.append_null();
        }
        debug_assert_eq!(self.len(), rows, "a column set twice in one row");
    }
}

macro_rules! column {
    ($name:ident, $builder:ty, $dt:expr) => {
        pub(super) struct $name(pub(super) $builder);

        impl Column for $name {
            fn len(&self) -> usize {
                self.0.len()
            }
            fn append_null(&mut self) {
                self.0.append_null();
            }
            fn finish(&mut self) -> ArrayRef {
                Arc::new(self.0.finish())
            }
            fn data_type() -> DataType {
                $dt
            }
        }
    };
}

fn dict() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

fn list(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", item, true)))
}

column!(I32, Int32Builder, DataType::Int32);
column!(I64, Int64Builder, DataType::Int64);
column!(Bool, BooleanBuilder, DataType::Boolean);
column!(Str, StringBuilder, DataType::Utf8);
column!(Dict, StringDictionaryBuilder<Int32Type>, dict());
column!(Bytes, BinaryBuilder, DataType::Binary);
column!(
    Time,
    TimestampNanosecondBuilder,
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
);
column!(StrList, ListBuilder<StringBuilder>, list(DataType::Utf8));
column!(
    BytesList,
    ListBuilder<BinaryBuilder>,
    list(DataType::Binary)
);

column!(
    Ancestors,
    ListBuilder<StructBuilder>,
    list(DataType::Struct(ancestor_fields()))
);

/// One ancestor: JSON's `ancestors` items, typed as the subject's columns.
fn ancestor_fields() -> Fields {
    Fields::from(vec![
        Field::new("task_id", DataType::Utf8, true),
        Field::new("pid", DataType::Int32, true),
        Field::new("comm", DataType::Utf8, true),
        Field::new("kind", dict(), true),
    ])
}

impl Default for Ancestors {
    fn default() -> Self {
        let builders: Vec<Box<dyn ArrayBuilder>> = vec![
            Box::new(StringBuilder::new()),
            Box::new(Int32Builder::new()),
            Box::new(StringBuilder::new()),
            Box::new(StringDictionaryBuilder::<Int32Type>::new()),
        ];
        Ancestors(ListBuilder::new(StructBuilder::new(
            ancestor_fields(),
            builders,
        )))
    }
}

macro_rules! defaults {
    ($($name:ident),*) => {
        $(impl Default for $name {
            fn default() -> Self {
                $name(Default::default())
            }
        })*
    };
}
defaults!(I32, I64, Bool, Str, Dict, Bytes, StrList, BytesList);

impl Default for Time {
    fn default() -> Self {
        Time(TimestampNanosecondBuilder::new().with_timezone("UTC"))
    }
}

impl I32 {
    pub(super) fn set(&mut self, v: impl TryInto<i32>) {
        // Pids, cpus, signal numbers: all fit; a value that does not is
        // null rather than wrapped.
        self.0.append_option(v.try_into().ok());
    }
}

impl I64 {
    /// Unsigned kernel values (ns, inodes, u64 flags) as their bits: a
    /// u64 over i64::MAX (none seen in practice) reads negative.
    pub(super) fn set(&mut self, v: impl Into<u64>) {
        self.0.append_value(v.into() as i64);
    }

    pub(super) fn opt(&mut self, v: Option<impl Into<u64>>) {
        if let Some(v) = v {
            self.set(v);
        }
    }
}

impl Bool {
    pub(super) fn set(&mut self, v: bool) {
        self.0.append_value(v);
    }
}

impl Str {
    /// Task text as lossy UTF-8 (as JSON writes it); see [`Bytes::exact`].
    pub(super) fn set(&mut self, s: &str) {
        self.0.append_value(text::lossy(s));
    }

    pub(super) fn opt(&mut self, s: Option<&str>) {
        if let Some(s) = s {
            self.set(s);
        }
    }
}

impl Dict {
    pub(super) fn set(&mut self, s: &str) {
        self.0.append_value(text::lossy(s));
    }

    pub(super) fn opt(&mut self, s: Option<&str>) {
        if let Some(s) = s {
            self.set(s);
        }
    }
}

impl Bytes {
    /// The exact bytes of task text whose lossy form lost some (the
    /// `_b64` of JSON); null where the text is exact.
    pub(super) fn exact(&mut self, s: &str) {
        if text::has_mapped(s) {
            self.0.append_value(text::bytes(s));
        }
    }
}

impl Time {
    pub(super) fn set(&mut self, wall_ns: i128) {
        self.0.append_option(i64::try_from(wall_ns).ok());
    }
}

impl StrList {
    pub(super) fn set<'a>(&mut self, items: impl IntoIterator<Item = &'a str>) {
        for s in items {
            self.0.values().append_value(text::lossy(s));
        }
        self.0.append(true);
    }
}

impl BytesList {
    /// Every item's exact bytes when any item's text is lossy.
    pub(super) fn exact(&mut self, items: &[String]) {
        if items.iter().any(|s| text::has_mapped(s)) {
            for s in items {
                self.0.values().append_value(text::bytes(s));
            }
            self.0.append(true);
        }
    }
}

impl Ancestors {
    /// The chain, parent first (an empty list where none is known).
    pub(super) fn set(&mut self, chain: &[Ancestor]) {
        let s = self.0.values();
        for a in chain {
            // The builders are the ones `default` made, in field order.
            let id = a.task_id.to_string();
            let comm = text::lossy(&a.comm);
            str_field(s, 0).append_value(id);
            let pid = s.field_builder::<Int32Builder>(1).unwrap();
            pid.append_option(i32::try_from(a.pid).ok());
            str_field(s, 2).append_value(comm);
            let kind = s
                .field_builder::<StringDictionaryBuilder<Int32Type>>(3)
                .unwrap();
            kind.append_value(a.kind.name());
            s.append(true);
        }
        self.0.append(true);
    }

    pub(super) fn opt(&mut self, chain: Option<&[Ancestor]>) {
        if let Some(chain) = chain {
            self.set(chain);
        }
    }
}

fn str_field(s: &mut StructBuilder, i: usize) -> &mut StringBuilder {
    s.field_builder::<StringBuilder>(i).unwrap()
}

/// Declares the columns in order: the struct of builders, the schema's
/// fields, and ending a row (padding) and a batch.
macro_rules! columns {
    ($( $(#[doc = $doc:literal])* $name:ident : $ty:ident ),* $(,)?) => {
        pub(super) struct Columns {
            rows: usize,
            $( $(#[doc = $doc])* pub(super) $name: $ty, )*
        }

        impl Columns {
            pub(super) fn new() -> Columns {
                Columns { rows: 0, $( $name: $ty::default(), )* }
            }

            /// Rows since the last [`Columns::finish`].
            pub(super) fn rows(&self) -> usize {
                self.rows
            }

            /// Ends a row: every column it did not set is null.
            pub(super) fn end_row(&mut self) {
                self.rows += 1;
                $( self.$name.pad(self.rows); )*
            }

            pub(super) fn fields() -> Vec<arrow_schema::Field> {
                vec![$( arrow_schema::Field::new(stringify!($name), $ty::data_type(), true), )*]
            }

            /// The rows so far as arrays, in schema order; empties the
            /// builders.
            pub(super) fn finish(&mut self) -> Vec<arrow_array::ArrayRef> {
                self.rows = 0;
                vec![$( self.$name.finish(), )*]
            }
        }
    };
}
pub(super) use columns;
