//! The config file with the environment layered over it, read one section at a time.
//!
//! A section is read into its owner's `#[derive(Deserialize)]` struct. The struct's own field
//! list (which serde hands to `deserialize_struct`) names the keys that
//! `FLOWTALLY_<SECTION>_<KEY>` may set, and each field's own type decides how the variable's
//! text is read: a bool, a whole number, a comma-separated list, a name from an enum, or text.
//! So there is no list of keys or of their types to keep in step with the structs.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::de::value::{SeqDeserializer, StringDeserializer};
use serde::de::{DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::Deserializer;

use super::ConfigError;

/// The parsed file, the environment, and the sections read so far.
pub struct Document {
    origin: String,
    table: toml::Table,
    env: BTreeMap<String, String>,
    /// Each section read, with its keys: what [`Document::finish`] and the tests that walk every
    /// key go by.
    read: RefCell<Vec<(String, &'static [&'static str])>>,
}

impl Document {
    /// Reads `path`, with the process environment.
    pub fn load(path: &Path) -> Result<Document, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError(format!(
                "cannot read {}: {e}; pass --config FILE (see config/flowtally.toml for an example)",
                path.display()
            ))
        })?;
        let env: BTreeMap<String, String> = std::env::vars().collect();
        Self::parse(&text, &path.display().to_string(), &env)
    }

    /// Parses config text with the given environment (for tests).
    pub fn parse(
        text: &str,
        origin: &str,
        env: &BTreeMap<String, String>,
    ) -> Result<Document, ConfigError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError(format!("{origin}: {}", e.message())))?;
        Ok(Document {
            origin: origin.to_string(),
            table,
            env: env.clone(),
            read: RefCell::new(Vec::new()),
        })
    }

    pub fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }

    /// Section `[name]` as `T` (a struct), each of its keys overridden by
    /// `FLOWTALLY_<NAME>_<KEY>` when that is set. Errors name the key or the variable.
    pub fn section<T: DeserializeOwned>(&self, name: &str) -> Result<T, ConfigError> {
        let file = match self.table.get(name) {
            None => toml::Table::new(),
            Some(toml::Value::Table(t)) => t.clone(),
            Some(_) => {
                return Err(ConfigError(format!(
                    "{}: [{name}] must be a table (a [{name}] section)",
                    self.origin
                )))
            }
        };
        let section = Section {
            doc: self,
            name,
            file,
        };
        T::deserialize(section).map_err(|e| {
            if e.from_env {
                ConfigError(e.msg)
            } else {
                ConfigError(format!(
                    "{}: {} (see config/flowtally.toml for the keys)",
                    self.origin, e.msg
                ))
            }
        })
    }

    /// The sections read so far and their keys.
    pub fn keys(&self) -> Vec<(String, &'static [&'static str])> {
        self.read.borrow().clone()
    }

    /// Refuses a section of the file that nothing read (a misspelt `[sourec]`, say): call it
    /// once every part has read its sections.
    pub fn finish(&self) -> Result<(), ConfigError> {
        let read: Vec<String> = self.read.borrow().iter().map(|(s, _)| s.clone()).collect();
        match self.table.keys().find(|k| !read.contains(*k)) {
            None => Ok(()),
            Some(unknown) => Err(ConfigError(format!(
                "{}: unknown section [{unknown}]: the sections are {} (see config/flowtally.toml)",
                self.origin,
                read.iter()
                    .map(|s| format!("[{s}]"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

/// The environment variable that sets `key` of `[section]`.
pub fn env_var(section: &str, key: &str) -> String {
    format!("FLOWTALLY_{section}_{key}").to_uppercase()
}

/// A deserialization error, and whether it is about an environment variable (its message
/// names the variable) or about the file (the caller adds the file's name).
#[derive(Debug)]
pub struct DeError {
    msg: String,
    from_env: bool,
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for DeError {}

impl serde::de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            msg: msg.to_string(),
            from_env: false,
        }
    }
}

/// One section: the file's table, with the environment applied once the struct's fields are
/// known.
struct Section<'a> {
    doc: &'a Document,
    name: &'a str,
    file: toml::Table,
}

impl<'de> Deserializer<'de> for Section<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_struct("", &[], visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.doc
            .read
            .borrow_mut()
            .push((self.name.to_string(), fields));
        let mut entries: BTreeMap<String, Entry> = self
            .file
            .into_iter()
            .map(|(k, v)| (k, Entry::File(v)))
            .collect();
        for key in fields {
            let var = env_var(self.name, key);
            let Some(text) = self.doc.env.get(&var) else {
                continue;
            };
            // A key that holds tables may have a `<key>_file` sibling that names a file of them.
            let instead = fields
                .contains(&format!("{key}_file").as_str())
                .then(|| env_var(self.name, &format!("{key}_file")));
            entries.insert(
                key.to_string(),
                Entry::Env(EnvValue {
                    var,
                    text: text.clone(),
                    key: format!("[{}] {key}", self.name),
                    instead,
                }),
            );
        }
        visitor.visit_map(SectionAccess {
            section: self.name,
            entries: entries.into_iter(),
            pending: None,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

enum Entry {
    File(toml::Value),
    Env(EnvValue),
}

struct SectionAccess<'a> {
    section: &'a str,
    entries: std::collections::btree_map::IntoIter<String, Entry>,
    pending: Option<(String, Entry)>,
}

impl<'de> MapAccess<'de> for SectionAccess<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((key, entry)) = self.entries.next() else {
            return Ok(None);
        };
        let section = self.section;
        let out = seed
            .deserialize(StringDeserializer::<DeError>::new(key.clone()))
            .map_err(|e| DeError {
                msg: format!("[{section}] {}", e.msg),
                ..e
            })?;
        self.pending = Some((key, entry));
        Ok(Some(out))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.pending.take() {
            Some((key, Entry::File(value))) => seed.deserialize(value).map_err(|e| DeError {
                msg: format!("[{}] {key}: {}", self.section, e.message()),
                from_env: false,
            }),
            Some((_, Entry::Env(value))) => seed.deserialize(value),
            None => Err(serde::de::Error::custom("a value without its key")),
        }
    }
}

/// The text of one environment variable, read as whatever its field asks for.
#[derive(Clone)]
struct EnvValue {
    var: String,
    text: String,
    /// `[section] key`, for messages.
    key: String,
    /// The variable to use instead when this key holds tables.
    instead: Option<String>,
}

impl EnvValue {
    fn error(&self, why: impl fmt::Display) -> DeError {
        DeError {
            msg: format!("{}='{}' {why}", self.var, self.text),
            from_env: true,
        }
    }

    /// A visitor's own error (an unknown enum name, say), named by the variable.
    fn named<T>(&self, r: Result<T, DeError>) -> Result<T, DeError> {
        r.map_err(|e| {
            if e.from_env {
                e
            } else {
                self.error(format_args!("is not valid for {}: {}", self.key, e.msg))
            }
        })
    }

    fn number<N: std::str::FromStr>(&self) -> Result<N, DeError> {
        self.text
            .trim()
            .parse()
            .map_err(|_| self.error("is not a whole number: use digits only, e.g. 8"))
    }
}

macro_rules! env_integers {
    ($($method:ident $visit:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let n = self.number()?;
            self.named(visitor.$visit(n))
        }
    )*};
}

impl<'de> Deserializer<'de> for EnvValue {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let text = self.text.clone();
        self.named(visitor.visit_string(text))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let b = match self.text.trim() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => return Err(self.error("is not a boolean: use true or false")),
        };
        self.named(visitor.visit_bool(b))
    }

    env_integers! {
        deserialize_i8 visit_i8 deserialize_i16 visit_i16 deserialize_i32 visit_i32
        deserialize_i64 visit_i64 deserialize_u8 visit_u8 deserialize_u16 visit_u16
        deserialize_u32 visit_u32 deserialize_u64 visit_u64
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let x = self
            .text
            .trim()
            .parse()
            .map_err(|_| self.error("is not a number: use e.g. 1.5"))?;
        self.named(visitor.visit_f64(x))
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let this = self.clone();
        self.named(visitor.visit_some(this))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let this = self.clone();
        self.named(visitor.visit_newtype_struct(this))
    }

    /// A list: comma-separated, each item trimmed, empty items dropped.
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let items: Vec<EnvValue> = self
            .text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| EnvValue {
                text: s.to_string(),
                ..self.clone()
            })
            .collect();
        self.named(visitor.visit_seq(SeqDeserializer::new(items.into_iter())))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let name = StringDeserializer::<DeError>::new(self.text.trim().to_string());
        self.named(visitor.visit_enum(name))
    }

    fn deserialize_map<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, DeError> {
        Err(DeError {
            msg: match &self.instead {
                Some(var) => format!(
                    "{}: {} holds tables, which cannot be set from the environment: set {var} \
                     to a file of them, or write them in the config file",
                    self.var, self.key
                ),
                None => format!(
                    "{}: {} holds tables, which cannot be set from the environment: write it \
                     in the config file",
                    self.var, self.key
                ),
            },
            from_env: true,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf unit unit_struct tuple tuple_struct identifier
        ignored_any
    }
}

impl IntoDeserializer<'_, DeError> for EnvValue {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}
