//! The bad-input corpus (`tests/corpus/*.jsonl`): its cases, their expected outcomes, and the
//! small language the files use for inputs too big or too odd to write out. The tests that run
//! it are `bad_input_lambda.rs` (through the real `lambda_runtime` client) and `bad_input.rs`
//! (through the emulator, with real and raw WebSocket clients). `tests/corpus/README.md`
//! describes the files.

use serde::Deserialize;
use serde_json::{Map, Value};

/// What a case must lead to. Every field given is checked; the ones left out are not.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The Lambda response's `statusCode`, or the handshake's HTTP status.
    pub status: Option<u16>,
    /// The `code` of the error frame the caller gets (in the Lambda response's body or as a
    /// frame).
    pub code: Option<String>,
    /// The `type` of the (non-error) frame the caller gets.
    pub reply: Option<String>,
    /// That the caller gets no frame at all.
    pub silent: Option<bool>,
    /// How many connections are stored afterwards.
    pub stored: Option<usize>,
    /// The close code the client receives (emulator).
    pub close: Option<u16>,
    /// The payload of the pong the client receives (emulator).
    pub pong: Option<String>,
    /// That `lambda_runtime` reports an invocation error (the event is not JSON at all: the
    /// runtime client refuses it before the app sees it).
    pub invocation_error: Option<bool>,
}

/// One line of a corpus file: a name, the input (fields that differ per file) and the
/// expected outcome.
#[derive(Clone, Debug, Deserialize)]
pub struct Case {
    /// What the case tries, unique within its file.
    pub case: String,
    /// The outcome that must follow.
    pub expect: Expect,
    /// The input.
    #[serde(flatten)]
    pub input: Map<String, Value>,
}

impl Case {
    /// An input field, or `Null`.
    pub fn get(&self, field: &str) -> &Value {
        self.input.get(field).unwrap_or(&Value::Null)
    }

    /// An input field as text ([`text`]), if present.
    pub fn text(&self, field: &str) -> Option<String> {
        self.input.get(field).map(text)
    }
}

/// The cases of `tests/corpus/{file}`: one JSON object per line; blank lines and lines starting
/// with `#` (section titles) are skipped.
///
/// # Panics
///
/// When the file cannot be read, a line is not a case, or two cases share a name.
pub fn load(file: &str) -> Vec<Case> {
    let path = format!("{}/corpus/{file}", env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
    let mut cases: Vec<Case> = Vec::new();
    for (number, line) in source.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let case: Case = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("{path}:{}: not a case: {err}", number + 1));
        assert!(
            cases.iter().all(|c| c.case != case.case),
            "{path}:{}: the case {:?} is there twice",
            number + 1,
            case.case
        );
        cases.push(case);
    }
    cases
}

/// The text a corpus value stands for: a string is itself; `{"repeat": S, "times": N}` is `S`
/// N times; `{"bytes": [..]}` is those bytes (lossily, for text; see [`bytes`]); an array is
/// its parts joined.
pub fn text(value: &Value) -> String {
    String::from_utf8_lossy(&bytes(value)).into_owned()
}

/// The bytes a corpus value stands for (as [`text`], without the lossy step, so invalid UTF-8
/// can be written with `{"bytes": [..]}`).
pub fn bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Array(parts) => parts.iter().flat_map(bytes).collect(),
        Value::Object(map) if map.contains_key("repeat") => {
            let unit = bytes(&map["repeat"]);
            let times = map["times"].as_u64().expect("`times` is a count") as usize;
            unit.repeat(times)
        }
        Value::Object(map) if map.contains_key("bytes") => map["bytes"]
            .as_array()
            .expect("`bytes` is a list of bytes")
            .iter()
            .map(|b| u8::try_from(b.as_u64().expect("a byte")).expect("a byte"))
            .collect(),
        other => panic!("not a corpus text: {other}"),
    }
}

/// A value of `set`, expanded: `{"text": T}` is the string [`text`] makes of `T`; anything else
/// is itself, with its members expanded.
pub fn value(value: &Value) -> Value {
    match value {
        Value::Object(map) if map.len() == 1 && map.contains_key("text") => {
            Value::String(text(&map["text"]))
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, v)| (key.clone(), self::value(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(self::value).collect()),
        other => other.clone(),
    }
}

/// `event` with the case's `remove` (JSON pointers) and `set` (pointer → value; missing parents
/// are made) applied, in that order.
pub fn mutate(mut event: Value, case: &Case) -> Value {
    if let Some(remove) = case.input.get("remove") {
        for pointer in remove.as_array().expect("`remove` is a list of pointers") {
            let pointer = pointer.as_str().expect("a JSON pointer");
            let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
            if let Some(Value::Object(map)) = event.pointer_mut(parent) {
                map.remove(key);
            }
        }
    }
    if let Some(set) = case.input.get("set") {
        for (pointer, v) in set.as_object().expect("`set` maps pointers to values") {
            set_at(&mut event, pointer, value(v));
        }
    }
    event
}

fn set_at(event: &mut Value, pointer: &str, v: Value) {
    if pointer.is_empty() {
        *event = v;
        return;
    }
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    if event.pointer(parent).is_none_or(|p| !p.is_object()) {
        set_at(event, parent, Value::Object(Map::new()));
    }
    event
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect("the parent is an object")
        .insert(key.to_owned(), v);
}

/// Whether `outcome` (what happened, as an [`Expect`] with every observed field filled in) is
/// what `expected` asks: each field `expected` gives must be equal.
pub fn matches(expected: &Expect, outcome: &Expect) -> bool {
    fn same<T: PartialEq>(want: &Option<T>, got: &Option<T>) -> bool {
        want.is_none() || want == got
    }
    same(&expected.status, &outcome.status)
        && same(&expected.code, &outcome.code)
        && same(&expected.reply, &outcome.reply)
        && same(&expected.silent, &outcome.silent)
        && same(&expected.stored, &outcome.stored)
        && same(&expected.close, &outcome.close)
        && same(&expected.pong, &outcome.pong)
        && same(&expected.invocation_error, &outcome.invocation_error)
}

/// The `code` of an error frame, or the `type` of any other frame: `(code, reply)`.
pub fn classify(frame: &str) -> (Option<String>, Option<String>) {
    let Ok(value) = serde_json::from_str::<Value>(frame) else {
        return (None, Some("(not JSON)".into()));
    };
    let kind = value["type"].as_str().map(str::to_owned);
    if kind.as_deref() == Some("error") {
        (value["code"].as_str().map(str::to_owned), None)
    } else {
        (None, kind)
    }
}
