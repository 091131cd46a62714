//! The stream frames are laid out as PROTOCOL.md section 9.1 shows.

use hisock::frame::Frame;

#[test]
fn stream_frames_are_laid_out_as_documented() {
    let cases: [(Frame<'_>, &[u8]); 5] = [
        (
            Frame::StreamStart {
                stream_id: 1,
                command: "up",
                total_len: Some(300),
            },
            &[0x11, 0x01, 0x02, 0x75, 0x70, 0x01, 0xac, 0x02],
        ),
        (
            Frame::StreamChunk {
                stream_id: 1,
                data: &[0xaa, 0xbb],
            },
            &[0x12, 0x01, 0x02, 0xaa, 0xbb],
        ),
        (
            Frame::StreamEnd {
                stream_id: 1,
                error: None,
            },
            &[0x13, 0x01, 0x00],
        ),
        (
            Frame::StreamAck {
                stream_id: 1,
                consumed: 300,
            },
            &[0x14, 0x01, 0xac, 0x02],
        ),
        (
            Frame::StreamCancel {
                stream_id: 1,
                code: 6,
                message: "big",
            },
            &[0x15, 0x01, 0x06, 0x03, 0x62, 0x69, 0x67],
        ),
    ];
    for (frame, bytes) in cases {
        assert_eq!(&frame.encode()[..], bytes, "{}", frame.kind_name());
        assert_eq!(Frame::decode(bytes).expect("decodes"), frame);
    }
}
