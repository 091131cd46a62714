//! JS values ⇄ MessagePack, as the npm package converts them, checked in the
//! browser's own JS engine.

use hisock::Value;
use hisock_wasm::js::value::{from_js, to_js};
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

/// JS → Value → MessagePack → Value → JS.
fn through_the_wire(value: &JsValue) -> JsValue {
    let value = from_js(value).expect("converts");
    let bytes = hisock::value::encode(&value).expect("encodes");
    let back: Value = hisock::value::decode(&bytes).expect("decodes");
    to_js(&back)
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
