//! JS values ⇄ MessagePack, as the npm package converts them, checked in the
//! browser's own JS engine.

use hisock::Value;
use hisock_wasm::js::value::{decode, encode};
use js_sys::{Function, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

/// Evaluates a JS expression.
fn js(expr: &str) -> JsValue {
    Function::new_no_args(&format!("return ({expr});"))
        .call0(&JsValue::NULL)
        .expect("the expression evaluates")
}

/// Calls a JS function of one or two arguments given as source text.
fn call(source: &str, a: &JsValue, b: &JsValue) -> JsValue {
    let f: Function = js(source).unchecked_into();
    f.call2(&JsValue::NULL, a, b).expect("the function runs")
}

/// JS → MessagePack, read back by the Rust side as a `Value`.
fn from_js(value: &JsValue) -> Result<Value, String> {
    let bytes = encode(value)?;
    Ok(hisock::value::decode(&bytes).expect("the encoding is MessagePack"))
}

/// A `Value` encoded by the Rust side, decoded into JS.
fn to_js(value: &Value) -> JsValue {
    decode(&hisock::value::encode(value).expect("encodes")).expect("decodes")
}

/// JS → MessagePack → JS.
fn through_the_wire(value: &JsValue) -> JsValue {
    decode(&encode(value).expect("converts")).expect("decodes")
}

/// Structural equality that tells a Uint8Array from an array.
const DEEP_EQUAL: &str = r#"function eq(a, b) {
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array &&
      a.length === b.length && a.every((x, i) => x === b[i]);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length &&
      a.every((x, i) => eq(x, b[i]));
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    if (Object.getPrototypeOf(a) !== Object.prototype) return false;
    if (Object.getPrototypeOf(b) !== Object.prototype) return false;
    const ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => eq(a[k], b[k]));
  }
  return Object.is(a, b);
}"#;

fn deep_equal(a: &JsValue, b: &JsValue) -> bool {
    call(DEEP_EQUAL, a, b).as_bool() == Some(true)
}

#[wasm_bindgen_test]
fn nested_objects_with_bytes_round_trip_unchanged() {
    let original = js(r#"{
        text: "héllo", n: 42, neg: -7, half: 0.5, yes: true, nothing: null,
        bytes: new Uint8Array([0, 1, 254, 255]),
        list: [1, "two", [3, new Uint8Array([4])], { deep: { deeper: [] } }],
        empty: {}
    }"#);
    let back = through_the_wire(&original);
    assert!(deep_equal(&original, &back), "{back:?}");
}

#[wasm_bindgen_test]
fn bytes_are_msgpack_bin_and_come_back_as_uint8array() {
    let value = from_js(&js("new Uint8Array([1, 2, 3])")).expect("converts");
    assert_eq!(value, Value::Binary(vec![1, 2, 3]));
    let value = from_js(&js("new Uint8Array([9, 8]).buffer")).expect("converts");
    assert_eq!(value, Value::Binary(vec![9, 8]));
    let back = to_js(&Value::Binary(vec![5]));
    assert!(back.is_instance_of::<js_sys::Uint8Array>());
    assert!(
        from_js(&js("new Int16Array([1])")).is_err(),
        "other views are refused"
    );
}

#[wasm_bindgen_test]
fn numbers_keep_integers_exact_and_large_ones_become_bigint() {
    assert_eq!(from_js(&JsValue::from(3)).expect("int"), Value::from(3));
    assert_eq!(from_js(&JsValue::from(-3)).expect("int"), Value::from(-3));
    assert_eq!(
        from_js(&JsValue::from(1.5)).expect("float"),
        Value::F64(1.5)
    );
    assert_eq!(
        from_js(&js("2n ** 64n - 1n")).expect("bigint"),
        Value::from(u64::MAX)
    );
    assert!(from_js(&js("2n ** 64n")).is_err(), "beyond 64 bits");

    let safe = to_js(&Value::from(9_007_199_254_740_991_i64));
    assert_eq!(safe.as_f64(), Some(9_007_199_254_740_991.0));
    let big = to_js(&Value::from(u64::MAX));
    assert!(big.is_bigint());
    assert_eq!(u64::try_from(big).expect("exact"), u64::MAX);
    let negative = to_js(&Value::from(i64::MIN));
    assert_eq!(i64::try_from(negative).expect("exact"), i64::MIN);
}

#[wasm_bindgen_test]
fn objects_follow_json_rules() {
    let value = from_js(&js("{ a: 1, skipped: undefined, when: new Date(0) }")).expect("converts");
    assert_eq!(
        value,
        Value::Map(vec![
            (Value::from("a"), Value::from(1)),
            (Value::from("when"), Value::from("1970-01-01T00:00:00.000Z")),
        ])
    );
    assert!(
        from_js(&js("{ f: () => 1 }")).is_err(),
        "functions are refused"
    );
    assert!(
        from_js(&js("(() => { const a = []; a.push(a); return a; })()")).is_err(),
        "cycles are refused"
    );
    let from_map = from_js(&js("new Map([[1, 'one']])")).expect("converts");
    assert_eq!(
        from_map,
        Value::Map(vec![(Value::from(1), Value::from("one"))])
    );
}

#[wasm_bindgen_test]
fn received_maps_are_plain_objects_and_proto_keys_stay_data() {
    let object = to_js(&Value::Map(vec![
        (Value::from("__proto__"), Value::from(1)),
        (Value::from(7), Value::from("seven")),
    ]));
    let proto = Object::get_prototype_of(&object);
    assert!(
        Object::is(&proto, &js("Object.prototype")),
        "a plain object"
    );
    let object: Object = object.unchecked_into();
    let own =
        Reflect::get_own_property_descriptor(&object, &"__proto__".into()).expect("descriptor");
    assert!(!own.is_undefined(), "__proto__ is an own data property");
    assert_eq!(
        Reflect::get(&object, &"7".into())
            .expect("get")
            .as_string()
            .as_deref(),
        Some("seven")
    );

    let odd = to_js(&Value::Map(vec![(
        Value::Array(vec![Value::from(1)]),
        Value::from(true),
    )]));
    assert!(
        odd.is_instance_of::<js_sys::Map>(),
        "non-scalar keys need a Map"
    );
}

#[wasm_bindgen_test]
fn encodings_are_the_shortest_forms_as_rust_writes_them() {
    // Integers at every width boundary, strings, bytes, arrays and maps
    // around their 8/16/32-bit length boundaries: the bytes must equal what
    // rmp-serde writes for the same value.
    let ints: [i64; 22] = [
        0,
        1,
        127,
        128,
        255,
        256,
        65_535,
        65_536,
        4_294_967_295,
        4_294_967_296,
        9_007_199_254_740_991,
        -1,
        -32,
        -33,
        -128,
        -129,
        -32_768,
        -32_769,
        -2_147_483_648,
        -2_147_483_649,
        -9_007_199_254_740_991,
        42,
    ];
    for n in ints {
        let rust = hisock::value::encode(&n).expect("encodes");
        assert_eq!(
            encode(&JsValue::from_f64(n as f64)).expect("int"),
            rust.to_vec(),
            "{n}"
        );
    }
    assert_eq!(
        encode(&js("2n ** 64n - 1n")).expect("bigint"),
        hisock::value::encode(&u64::MAX).expect("encodes").to_vec()
    );
    assert_eq!(
        encode(&js("-(2n ** 63n)")).expect("bigint"),
        hisock::value::encode(&i64::MIN).expect("encodes").to_vec()
    );
    assert_eq!(
        encode(&JsValue::from_f64(0.5)).expect("float"),
        hisock::value::encode(&0.5_f64).expect("encodes").to_vec()
    );
    for len in [0, 31, 32, 255, 256, 65_535, 65_536] {
        let text = "x".repeat(len);
        assert_eq!(
            encode(&JsValue::from_str(&text)).expect("str"),
            hisock::value::encode(&text).expect("encodes").to_vec(),
            "str of {len}"
        );
        let bytes = vec![7_u8; len];
        let array = js_sys::Uint8Array::from(bytes.as_slice());
        assert_eq!(
            encode(&array).expect("bin"),
            hisock::value::encode(&Value::Binary(bytes))
                .expect("encodes")
                .to_vec(),
            "bin of {len}"
        );
    }
    for len in [0, 15, 16, 65_535, 65_536] {
        let nils = Value::Array(vec![Value::Nil; len]);
        let array = js_sys::Array::new_with_length(len as u32);
        assert_eq!(
            encode(&array).expect("array"),
            hisock::value::encode(&nils).expect("encodes").to_vec(),
            "array of {len}"
        );
    }
    for len in [0_usize, 15, 16, 65_536] {
        let entries: Vec<(Value, Value)> = (0..len)
            .map(|i| (Value::from(i.to_string()), Value::Nil))
            .collect();
        let object = Object::new();
        for i in 0..len {
            Reflect::set(&object, &i.to_string().into(), &JsValue::NULL).expect("sets");
        }
        assert_eq!(
            encode(&object).expect("map"),
            hisock::value::encode(&Value::Map(entries))
                .expect("encodes")
                .to_vec(),
            "map of {len}"
        );
    }
}

#[wasm_bindgen_test]
fn every_messagepack_form_decodes() {
    let cases: Vec<(Value, &str)> = vec![
        (Value::F32(1.5), "1.5"),
        (Value::from(u64::MAX), "2n ** 64n - 1n"),
        (Value::from(i64::MIN), "-(2n ** 63n)"),
        (Value::from(-129), "-129"),
        (Value::from(4_294_967_296_u64), "4294967296"),
        (Value::from("é".repeat(40)), "'é'.repeat(40)"),
        (Value::Array(vec![Value::from(1); 20]), "Array(20).fill(1)"),
        (
            Value::Map(vec![
                (Value::from(1), Value::from(2)),
                (Value::from(true), Value::Nil),
            ]),
            "({ 1: 2, true: null })",
        ),
        (
            Value::Ext(5, vec![1, 2, 3]),
            "({ extType: 5, data: new Uint8Array([1, 2, 3]) })",
        ),
    ];
    for (value, expected) in cases {
        let got = to_js(&value);
        let expected = js(expected);
        let same = deep_equal(&got, &expected)
            || call(
                "(a, b) => typeof a === 'bigint' && a === b",
                &got,
                &expected,
            )
            .as_bool()
                == Some(true);
        assert!(same, "{value:?} decoded as {got:?}");
    }
}

#[wasm_bindgen_test]
fn malformed_truncated_and_too_deep_input_is_an_error() {
    assert!(decode(&[0xc1]).is_err(), "the never-used marker");
    assert!(decode(&[]).is_err(), "nothing");
    assert!(decode(&[0xcd, 0x01]).is_err(), "a truncated uint 16");
    assert!(decode(&[0xa5, b'a']).is_err(), "a truncated str");
    assert!(
        decode(&[0xdd, 0xff, 0xff, 0xff, 0xff]).is_err(),
        "a huge array length"
    );
    let mut deep = vec![0x91; 200];
    deep.push(0xc0);
    assert!(decode(&deep).is_err(), "nested deeper than the limit");
    let mut fine = vec![0x91; 100];
    fine.push(0xc0);
    assert!(decode(&fine).is_ok(), "nesting within the limit");
}
