//! Payloads of `basic_server` / `basic_client`.
//!
//! A payload is any `Serialize` type on the way out and any `Deserialize`
//! type on the way in. It travels as self-describing MessagePack (structs as
//! maps keyed by field name), so the receiver only needs a type of the same
//! shape: sharing the definition, as here, is the easy way to get that.

use serde::{Deserialize, Serialize};

/// An arithmetic operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b`
    Div,
}

/// The payload of the `calc` request; the reply is an `f64`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calc {
    /// What to do.
    pub op: Op,
    /// Left operand.
    pub a: f64,
    /// Right operand.
    pub b: f64,
}

impl Calc {
    /// The result, or why there is none (division by zero).
    pub fn eval(self) -> Result<f64, String> {
        match self.op {
            Op::Add => Ok(self.a + self.b),
            Op::Sub => Ok(self.a - self.b),
            Op::Mul => Ok(self.a * self.b),
            Op::Div if self.b == 0.0 => Err("division by zero".to_string()),
            Op::Div => Ok(self.a / self.b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calc_divides_and_refuses_division_by_zero() {
        let half = Calc {
            op: Op::Div,
            a: 1.0,
            b: 2.0,
        };
        assert_eq!(half.eval(), Ok(0.5));
        assert!(Calc { b: 0.0, ..half }.eval().is_err());
    }
}
