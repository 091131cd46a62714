//! Unit tests of `handshake.rs`, kept apart so that the module reads in one sitting.
use super::*;
use crate::frame::FRAME_KINDS;
use crate::transport::TransportKind;

fn refused(first: FirstFrame) -> CloseReason {
    match check_first(first) {
        Verdict::Refuse(reason) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn read(bytes: &[u8]) -> FirstFrame {
    FirstFrame::Read(Ok(Bytes::copy_from_slice(bytes)))
}

#[test]
fn no_hello_in_time_is_4004() {
    assert_eq!(refused(FirstFrame::TimedOut).code, codes::HANDSHAKE_TIMEOUT);
}

#[test]
fn shutting_down_while_waiting_is_1001() {
    assert_eq!(refused(FirstFrame::ShuttingDown).code, codes::GOING_AWAY);
}

#[test]
fn a_closed_transport_is_dropped_without_a_word() {
    assert_eq!(check_first(FirstFrame::Closed), Verdict::Drop);
    let broken = FirstFrame::Read(Err(TransportError::Truncated));
    assert_eq!(check_first(broken), Verdict::Drop);
}

#[test]
fn an_oversized_first_frame_is_1009_and_a_text_message_1003() {
    let big = FirstFrame::Read(Err(TransportError::FrameTooBig { len: 9, max: 8 }));
    assert_eq!(refused(big).code, codes::TOO_BIG);
    let text = FirstFrame::Read(Err(TransportError::Unsupported(CloseReason::new(
        codes::UNSUPPORTED_DATA,
        "text",
    ))));
    assert_eq!(refused(text).code, codes::UNSUPPORTED_DATA);
}

#[test]
fn an_unknown_kind_is_4007() {
    assert_eq!(
        refused(read(&[FRAME_KINDS, 0])).code,
        codes::UNKNOWN_FRAME_KIND
    );
}

#[test]
fn a_malformed_or_other_first_frame_is_1002() {
    let truncated_hello = refused(read(&[0x00, 0x01]));
    assert_eq!(truncated_hello.code, codes::PROTOCOL_ERROR);
    assert!(truncated_hello.reason.starts_with("bad hello: "));
    let ping = refused(read(&Frame::Ping { nonce: 1 }.encode()));
    assert_eq!(ping.code, codes::PROTOCOL_ERROR);
    let ping_name = Frame::Ping { nonce: 1 }.kind_name();
    assert_eq!(ping.reason, format!("expected hello, got {ping_name}"));
}

#[test]
fn a_resume_is_read_before_the_hello_and_a_second_one_is_1002() {
    let resume = Frame::Resume {
        token: &[9; 16],
        received: 7,
    }
    .encode();
    assert_eq!(
        check_first(read(&resume)),
        Verdict::Resume(ResumeRequest {
            token: Bytes::from_static(&[9; 16]),
            received: 7,
        })
    );
    let again = match check_after_resume(read(&resume)) {
        Verdict::Refuse(reason) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(again.code, codes::PROTOCOL_ERROR);
    assert_eq!(again.reason, "expected hello, got resume");
    let hello = hello_frame(Some("ada"), None, None);
    assert!(matches!(
        check_after_resume(read(&hello)),
        Verdict::Hello(Hello { name: Some(name), .. }) if &*name == "ada"
    ));
}

#[test]
fn another_version_is_4001() {
    let hello = Frame::Hello {
        version: 2,
        name: None,
        group: None,
        auth: None,
    }
    .encode();
    assert_eq!(refused(read(&hello)).code, codes::VERSION_MISMATCH);
}

#[test]
fn a_hello_is_admitted_with_its_name_group_and_auth() {
    let hello = hello_frame(Some("ada"), Some("lobby"), Some(&[0xc3]));
    let Verdict::Hello(hello) = check_first(read(&hello)) else {
        panic!("admitted");
    };
    assert_eq!(hello.name.as_deref(), Some("ada"));
    assert_eq!(hello.group.as_deref(), Some("lobby"));
    assert_eq!(hello.auth.as_deref(), Some(&[0xc3][..]));
}

#[test]
fn the_auth_hooks_refusal_is_4003_with_its_text() {
    assert_eq!(check_auth(Ok(())), Ok(()));
    let reason = check_auth(Err("bad token".into())).expect_err("refused");
    assert_eq!(reason, CloseReason::new(codes::AUTH_REFUSED, "bad token"));
}

#[test]
fn a_name_or_group_over_the_limit_is_4008() {
    let hello = |name: &str, group: &str| Hello {
        name: Some(Arc::from(name)),
        group: Some(Arc::from(group)),
        auth: None,
    };
    assert_eq!(check_names(&hello("ada", "lobby"), 3, 5), Ok(()));
    assert_eq!(check_names(&Hello::default(), 0, 0), Ok(()));
    let long_name = check_names(&hello("adam", "lobby"), 3, 5).expect_err("long");
    assert_eq!(
        long_name,
        CloseReason::new(codes::NAME_TOO_LONG, "client name longer than 3 bytes")
    );
    let long_group = check_names(&hello("ada", "lobby!"), 3, 5).expect_err("long");
    assert_eq!(
        long_group,
        CloseReason::new(codes::NAME_TOO_LONG, "group name longer than 5 bytes")
    );
}

#[test]
fn a_full_server_is_4002() {
    assert_eq!(check_capacity(10, None), Ok(()));
    assert_eq!(check_capacity(1, Some(2)), Ok(()));
    let full = check_capacity(2, Some(2)).expect_err("full");
    assert_eq!(full.code, codes::SERVER_FULL);
    assert_eq!(full.reason, "server full: 2 clients connected");
}

#[test]
fn the_welcome_the_server_sends_is_what_the_client_reads() {
    let info = ClientInfo {
        id: 7,
        name: Some(Arc::from("ada")),
        group: None,
        addr: "127.0.0.1:5000".parse().ok(),
        transport: TransportKind::Tcp,
    };
    let params = SessionParams {
        keepalive_interval: Some(Duration::from_secs(15)),
        keepalive_timeout: Some(Duration::from_secs(45)),
        max_frame_len: 1 << 20,
    };
    let welcomed = read_answer(Some(welcome_frame(&info, &params))).expect("welcomed");
    assert_eq!(welcomed.client_id, 7);
    assert_eq!(welcomed.name.as_deref(), Some("ada"));
    assert_eq!(welcomed.group, None);
    assert_eq!(welcomed.params, params);
    assert_eq!(welcomed.seen_addr, info.addr);
}

#[test]
fn without_keepalive_both_keepalive_fields_are_zero() {
    let info = ClientInfo {
        id: 1,
        name: None,
        group: None,
        addr: None,
        transport: TransportKind::Other,
    };
    let params = SessionParams {
        keepalive_interval: None,
        keepalive_timeout: Some(Duration::from_secs(45)),
        max_frame_len: 8,
    };
    let frame = welcome_frame(&info, &params);
    match Frame::decode(&frame).expect("decodes") {
        Frame::Welcome {
            keepalive_interval_ms,
            keepalive_timeout_ms,
            ..
        } => assert_eq!((keepalive_interval_ms, keepalive_timeout_ms), (0, 0)),
        other => panic!("{other:?}"),
    }
    let welcomed = read_answer(Some(frame)).expect("welcomed");
    assert_eq!(welcomed.params.keepalive_interval, None);
    assert_eq!(welcomed.params.keepalive_timeout, None);
}

#[test]
fn the_client_reads_refusals_closes_and_strangers_as_errors() {
    let refusal = refuse_frame(&CloseReason::new(codes::SERVER_FULL, "full"));
    assert!(matches!(
        read_answer(Some(refusal)),
        Err(Error::Refused(r)) if r.code == codes::SERVER_FULL && r.reason == "full"
    ));
    let close =
        crate::protocol::closing::close_frame_for(&CloseReason::new(codes::GOING_AWAY, "bye"));
    assert!(matches!(
        read_answer(Some(close)),
        Err(Error::Closed(r)) if r.code == codes::GOING_AWAY
    ));
    assert!(matches!(
        read_answer(Some(Frame::Ping { nonce: 1 }.encode())),
        Err(Error::Protocol(ProtocolFault::Expected {
            expected: "welcome",
            ..
        }))
    ));
    assert!(matches!(
        read_answer(None),
        Err(Error::Closed(r)) if r.code == codes::ABNORMAL
    ));
}
