package broker

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// unhex turns a hex dump into bytes; spaces are ignored and so is the rest
// of a line after '#'.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var clean strings.Builder
	for _, line := range strings.Split(s, "\n") {
		line, _, _ = strings.Cut(line, "#")
		clean.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(clean.String())
	require.NoError(t, err)
	return b
}

// The encoding of a message, byte by byte, as the format table in doc.go
// describes it. If this test fails, the format changed: that needs a new
// version byte, not a new golden.
func TestEncodeMessageGolden(t *testing.T) {
	m := Message{Topic: "TopicTest", Tags: "TagA", Keys: "k1", Body: []byte("Hello"), Producer: "p1", Seq: 7}
	want := unhex(t, `
		01                          # version 1
		09 546f70696354657374       # topic "TopicTest"
		04 54616741                 # tags "TagA"
		0002 6b31                   # keys "k1"
		02 7031                     # producer "p1"
		0000000000000007            # seq 7
		00000005 48656c6c6f         # body "Hello"
	`)

	got, err := EncodeMessage(m)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	back, err := DecodeMessage(got)
	require.NoError(t, err)
	assert.Equal(t, m, back)
}

func TestEncodeMessageMinimal(t *testing.T) {
	got, err := EncodeMessage(Message{Topic: "T"})
	require.NoError(t, err)
	assert.Equal(t, unhex(t, "01 0154 00 0000 00 0000000000000000 00000000"), got)
	assert.Len(t, got, messageFixedLen+1)
}

func TestValidateMessage(t *testing.T) {
	ok := Message{Topic: "orders", Producer: "p", Seq: 1}
	with := func(f func(*Message)) Message { m := ok; f(&m); return m }
	tests := []struct {
		name  string
		msg   Message
		field string
		want  error
	}{
		{"valid", ok, "", nil},
		{"RocketMQ's special characters are allowed", with(func(m *Message) { m.Topic = "%RETRY%group|a_b-C9" }), "", nil},
		{"a 127-character topic is allowed", with(func(m *Message) { m.Topic = strings.Repeat("t", 127) }), "", nil},
		{"empty topic", with(func(m *Message) { m.Topic = "" }), "topic", ErrBadTopic},
		{"128-character topic", with(func(m *Message) { m.Topic = strings.Repeat("t", 128) }), "topic", ErrBadTopic},
		{"dot in topic", with(func(m *Message) { m.Topic = "a.b" }), "topic", ErrBadTopic},
		{"space in topic", with(func(m *Message) { m.Topic = "a b" }), "topic", ErrBadTopic},
		{"non-ASCII topic", with(func(m *Message) { m.Topic = "主题" }), "topic", ErrBadTopic},
		{"tags too long", with(func(m *Message) { m.Tags = strings.Repeat("x", MaxTagsLen+1) }), "tags", ErrTooLarge},
		{"keys too long", with(func(m *Message) { m.Keys = strings.Repeat("x", MaxKeysLen+1) }), "keys", ErrTooLarge},
		{"producer too long", with(func(m *Message) { m.Producer = strings.Repeat("x", MaxProducerLen+1) }), "producer", ErrTooLarge},
		{"tags not UTF-8", with(func(m *Message) { m.Tags = "\xff" }), "tags", ErrBadMessage},
		{"body over 4 MiB", with(func(m *Message) { m.Body = make([]byte, DefaultMaxMessageBytes+1) }), "size", ErrMessageTooLarge},
		{"message of exactly 4 MiB", with(func(m *Message) {
			m.Body = make([]byte, DefaultMaxMessageBytes-EncodedLen(Message{Topic: m.Topic, Tags: m.Tags, Keys: m.Keys, Producer: m.Producer, Seq: m.Seq}))
		}), "", nil},
		{"body of 4 MiB: the encoded message is larger", with(func(m *Message) { m.Body = make([]byte, DefaultMaxMessageBytes) }), "size", ErrMessageTooLarge},
		{"seq 0 with a producer", with(func(m *Message) { m.Seq = 0 }), "seq", ErrBadMessage},
		{"seq without a producer", with(func(m *Message) { m.Producer = "" }), "seq", ErrBadMessage},
		{"anonymous producer", with(func(m *Message) { m.Producer, m.Seq = "", 0 }), "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := EncodeMessage(tt.msg)
			if tt.want == nil {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.field, fe.Field)
			assert.Equal(t, -1, fe.Offset, "a Message value has no byte offsets")
			assert.NotErrorIs(t, err, ErrCorrupt, "a bad message value is not corrupt bytes")
		})
	}
}

func TestDecodeMessageErrors(t *testing.T) {
	good, err := EncodeMessage(Message{Topic: "T", Tags: "a", Producer: "p", Seq: 1, Body: []byte("xyz")})
	require.NoError(t, err)
	// good: 01 | 01 54 | 01 61 | 0000 | 01 70 | seq(8) @9 | bodyLen(4) @17 | body @21
	patch := func(at int, v ...byte) []byte {
		b := bytes.Clone(good)
		copy(b[at:], v)
		return b
	}
	tests := []struct {
		name   string
		in     []byte
		field  string
		offset int
		also   error
	}{
		{"empty input", nil, "version", 0, nil},
		{"unknown version", patch(0, 2), "version", 0, nil},
		{"no topic length", good[:1], "topicLen", 1, nil},
		{"topic length beyond the input", patch(1, 200), "topic", 2, nil},
		{"zero-length topic", unhex(t, "01 00 00 0000 00 0000000000000000 00000000"), "topic", 2, ErrBadTopic},
		{"bad topic character", patch(2, '.'), "topic", 2, ErrBadTopic},
		{"tags not UTF-8", patch(4, 0xff), "tags", 4, ErrBadMessage},
		{"keys length lies", patch(5, 0xff, 0xff), "keys", 7, nil},
		{"keys over the limit", append(unhex(t, "01 0154 00 0401"), make([]byte, 0x401+13)...), "keys", 6, ErrTooLarge},
		{"truncated seq", good[:12], "seq", 9, nil},
		{"seq 0 with a producer", patch(9, 0, 0, 0, 0, 0, 0, 0, 0), "seq", 9, ErrBadMessage},
		{"body length says 4 GiB", patch(17, 0xff, 0xff, 0xff, 0xff), "bodyLen", 17, nil},
		{"body shorter than its length", good[:len(good)-1], "bodyLen", 17, nil},
		{"trailing byte", append(bytes.Clone(good), 0), "bodyLen", 17, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeMessage(tt.in)
			require.Error(t, err)
			assert.Zero(t, m)
			assert.ErrorIs(t, err, ErrCorrupt)
			if tt.also != nil {
				assert.ErrorIs(t, err, tt.also)
			}
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.field, fe.Field, "field; error: %v", err)
			assert.Equal(t, tt.offset, fe.Offset, "offset; error: %v", err)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
}

func TestDecodeMessageCopiesBody(t *testing.T) {
	b, err := EncodeMessage(Message{Topic: "T", Body: []byte("abc")})
	require.NoError(t, err)
	m, err := DecodeMessage(b)
	require.NoError(t, err)
	b[len(b)-1] = 'X'
	assert.Equal(t, []byte("abc"), m.Body)
}

// Decoding does not apply the producer-side body limit: a committed entry is
// history and every replica must apply it whatever its local options.
func TestDecodeIgnoresBodyLimit(t *testing.T) {
	b, err := encodeMessage(Message{Topic: "T", Body: make([]byte, 100)}, 1000)
	require.NoError(t, err)
	_, err = DecodeMessage(b)
	assert.NoError(t, err)

	_, err = encodeMessage(Message{Topic: "T", Body: make([]byte, 100)}, 99)
	assert.ErrorIs(t, err, ErrTooLarge)
}

func FuzzDecodeMessage(f *testing.F) {
	for _, m := range []Message{
		{Topic: "T"},
		{Topic: "TopicTest", Tags: "TagA", Keys: "k1 k2", Body: []byte("Hello"), Producer: "p1", Seq: 7},
		{Topic: "%RETRY%g|x_y-z", Tags: "😀", Producer: "生产者", Seq: 1 << 63, Body: bytes.Repeat([]byte{0}, 300)},
	} {
		b, err := EncodeMessage(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0xff})
	f.Add([]byte{1, 1, 'T', 0, 0xff, 0xff})

	// One name cache across all inputs, as a broker keeps one across
	// messages: decoding with it must give exactly what DecodeMessage does.
	names := &nameCache{}
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := DecodeMessage(in)
		for range 2 { // the second time, names come from the cache
			cm, cerr := decodeMessage(in, names)
			if fmt.Sprint(cerr) != fmt.Sprint(err) || !reflect.DeepEqual(nilBody(cm), nilBody(m)) {
				t.Fatalf("with the name cache: %+v, %v; without: %+v, %v", cm, cerr, m, err)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode error does not match ErrCorrupt: %v", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Offset < 0 || fe.Offset > len(in) {
				t.Fatalf("decode error without a valid offset: %v", err)
			}
			return
		}
		// Every message has exactly one encoding: what decodes re-encodes
		// to the same bytes.
		out, err := encodeMessage(m, len(in))
		if err != nil {
			t.Fatalf("decoded %+v does not re-encode: %v", m, err)
		}
		if !bytes.Equal(in, out) {
			t.Fatalf("re-encoding differs:\n in  %x\n out %x", in, out)
		}
	})
}

// nilBody returns m with an empty Body as nil.
func nilBody(m Message) Message {
	if len(m.Body) == 0 {
		m.Body = nil
	}
	return m
}
