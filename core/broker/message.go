package broker

// This file is the message a producer sends and its encoding as the body of
// a DLedger entry. It mirrors RocketMQ's Message/MessageExt, reduced to what
// the lab needs: topic, tags, keys, body, and the producer id + sequence used
// for idempotent retries. The byte layout is documented in the package doc.

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"

	"dledgerlab/core"
)

// Limits of the version-1 encoding. They are part of the format: every
// replica checks committed bodies against the same numbers.
const (
	// MessageFormatV1 is the first byte of every version-1 encoded message.
	MessageFormatV1 = 1
	// MaxTopicLen is RocketMQ's limit on a topic name (TopicValidator).
	MaxTopicLen = 127
	// MaxTagsLen bounds the tags string, in bytes.
	MaxTagsLen = 255
	// MaxKeysLen bounds the keys string, in bytes.
	MaxKeysLen = 1024
	// MaxProducerLen bounds the producer id, in bytes.
	MaxProducerLen = 255
	// DefaultMaxMessageBytes bounds a whole encoded message — the fixed
	// fields, the names and the body — at core's one entry limit, 4 MiB:
	// the encoded message is the entry's data, so a message the broker
	// accepts always fits the CommitLog. RocketMQ's CommitLog measures the
	// encoded message against maxMessageSize (4 MiB) the same way
	// (MESSAGE_SIZE_EXCEEDED in store/CommitLog.java).
	DefaultMaxMessageBytes = core.DefaultMaxEntryBytes
	// messageFixedLen is the size of an encoding with empty strings and body:
	// version, topicLen, tagsLen, keysLen(2), producerLen, seq(8), bodyLen(4).
	messageFixedLen = 1 + 1 + 1 + 2 + 1 + 8 + 4
)

// Message is what a producer sends (RocketMQ's Message; MessageExt once
// stored). It is a plain value; Body is not copied by Encode.
type Message struct {
	// Topic names the ConsumeQueue the message goes to.
	Topic string
	// Tags is RocketMQ's tag string; its Java hashCode is the third field of
	// the ConsumeQueue record, used for server-side tag filtering.
	Tags string
	// Keys is RocketMQ's space-separated business keys (for the IndexFile).
	Keys string
	// Body is the opaque payload.
	Body []byte
	// Producer identifies the sender for deduplication of retries. Empty
	// means an anonymous producer: its messages are never deduplicated.
	Producer string
	// Seq is the producer's sequence number: 0 without a Producer, else >= 1
	// and increasing from one send to the next (see produce.go).
	Seq uint64
}

func (m Message) String() string {
	s := m.Topic
	if m.Tags != "" {
		s += fmt.Sprintf(" tags=%q", m.Tags)
	}
	if m.Producer != "" {
		s += fmt.Sprintf(" %s#%d", m.Producer, m.Seq)
	}
	return s + fmt.Sprintf(" (%dB)", len(m.Body))
}

// EncodeMessage validates m with the default size limit and returns its
// version-1 encoding. Use (*Broker).Prepare to apply the broker's own limit.
func EncodeMessage(m Message) ([]byte, error) {
	return encodeMessage(m, DefaultMaxMessageBytes)
}

// EncodedLen returns the size of m's version-1 encoding: the bytes its
// entry's data will take in the CommitLog.
func EncodedLen(m Message) int {
	return messageFixedLen + len(m.Topic) + len(m.Tags) + len(m.Keys) + len(m.Producer) + len(m.Body)
}

// encodeMessage validates m (encoded in at most maxMessage bytes) and
// encodes it.
func encodeMessage(m Message, maxMessage int) ([]byte, error) {
	if err := validateMessage(m, maxMessage); err != nil {
		return nil, err
	}
	b := make([]byte, 0, EncodedLen(m))
	b = append(b, MessageFormatV1)
	b = append(b, byte(len(m.Topic)))
	b = append(b, m.Topic...)
	b = append(b, byte(len(m.Tags)))
	b = append(b, m.Tags...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.Keys)))
	b = append(b, m.Keys...)
	b = append(b, byte(len(m.Producer)))
	b = append(b, m.Producer...)
	b = binary.BigEndian.AppendUint64(b, m.Seq)
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Body)))
	b = append(b, m.Body...)
	return b, nil
}

// DecodeMessage parses a version-1 encoded message. Any input gives either a
// Message or an error (a *FieldError matching ErrCorrupt) naming the field
// and the byte offset; it never panics and never allocates more than the
// input's size. The returned Body is a copy: b may be reused.
func DecodeMessage(b []byte) (Message, error) {
	return decodeMessage(b, nil)
}

// decodeMessage is DecodeMessage with names, if not nil, caching the name
// fields (topic, tags, keys, producer) that passed their checks: a broker
// sees the same few names in message after message, and the cache saves
// allocating and checking each one again. With names set, the returned Body
// is a slice of b, not a copy.
func decodeMessage(b []byte, names *nameCache) (Message, error) {
	if names != nil {
		if m, ok := names.decodeKnown(b); ok {
			return m, nil
		}
	}
	d := decoder{b: b, names: names}
	var m Message

	if v := d.u8("version"); d.err == nil && v != MessageFormatV1 {
		return Message{}, d.fail("version", 0, fmt.Sprintf("version %d, want %d", v, MessageFormatV1), ErrCorrupt)
	}
	name := func(k nameKind, field string, n int, check func(s string, off int) error) string {
		off := d.off
		s, cached := d.str(k, field, n)
		if d.err != nil || cached {
			return s
		}
		if err := check(s, off); err != nil {
			d.err = err
			return ""
		}
		d.remember(k, s)
		return s
	}
	m.Topic = name(nameTopic, "topic", int(d.u8("topicLen")), checkTopic)
	m.Tags = name(nameTags, "tags", int(d.u8("tagsLen")), func(s string, off int) error {
		return checkText("tags", s, MaxTagsLen, off)
	})
	m.Keys = name(nameKeys, "keys", int(d.u16("keysLen")), func(s string, off int) error {
		return checkText("keys", s, MaxKeysLen, off)
	})
	m.Producer = name(nameProducer, "producer", int(d.u8("producerLen")), func(s string, off int) error {
		return checkText("producer", s, MaxProducerLen, off)
	})
	if d.err != nil {
		return Message{}, d.err
	}
	off := d.off
	m.Seq = d.u64("seq")
	if d.err == nil {
		if err := checkSeq(m.Producer, m.Seq, off); err != nil {
			return Message{}, err
		}
	}
	bodyLen := d.u32("bodyLen")
	if d.err == nil && uint64(bodyLen) != uint64(len(b)-d.off) {
		return Message{}, d.fail("bodyLen", d.off-4,
			fmt.Sprintf("says %d bytes, %d remain", bodyLen, len(b)-d.off), ErrCorrupt)
	}
	if d.err != nil {
		return Message{}, d.err
	}
	switch {
	case bodyLen > 0 && names != nil:
		m.Body = b[d.off:len(b):len(b)]
	case bodyLen > 0:
		m.Body = append([]byte(nil), b[d.off:]...)
	}
	return m, nil
}

// validateMessage checks m against the format's rules and the size limit
// of the whole encoded message.
func validateMessage(m Message, maxMessage int) error {
	if err := checkTopic(m.Topic, -1); err != nil {
		return err
	}
	if err := checkText("tags", m.Tags, MaxTagsLen, -1); err != nil {
		return err
	}
	if err := checkText("keys", m.Keys, MaxKeysLen, -1); err != nil {
		return err
	}
	if err := checkText("producer", m.Producer, MaxProducerLen, -1); err != nil {
		return err
	}
	if err := checkSeq(m.Producer, m.Seq, -1); err != nil {
		return err
	}
	if n := EncodedLen(m); n > maxMessage {
		extra := n - len(m.Body)
		return &FieldError{Field: "size", Offset: -1, Err: ErrMessageTooLarge,
			Reason: fmt.Sprintf("%d bytes encoded (a %d-byte body and %d bytes of header, topic, tags, keys and producer), over the limit of %d bytes; with these names the body can be at most %d bytes",
				n, len(m.Body), extra, maxMessage, max(maxMessage-extra, 0))}
	}
	return nil
}

// ValidTopic reports whether name is a topic RocketMQ accepts: 1 to 127
// characters from [%|a-zA-Z0-9_-].
func ValidTopic(name string) bool { return checkTopic(name, -1) == nil }

// checkTopic applies RocketMQ's TopicValidator rule; off is the topic's byte
// offset in an encoded body, or -1.
func checkTopic(topic string, off int) error {
	switch {
	case topic == "":
		return &FieldError{Field: "topic", Offset: off, Reason: "empty", Err: ErrBadTopic}
	case len(topic) > MaxTopicLen:
		return &FieldError{Field: "topic", Offset: off, Err: ErrBadTopic,
			Reason: fmt.Sprintf("%d characters, limit %d", len(topic), MaxTopicLen)}
	}
	for i := 0; i < len(topic); i++ {
		if !topicChar(topic[i]) {
			at := i
			if off >= 0 {
				at += off
			}
			return &FieldError{Field: "topic", Offset: off, Err: ErrBadTopic,
				Reason: fmt.Sprintf("character %q at position %d (allowed: %%|a-zA-Z0-9_-)", topic[i], at)}
		}
	}
	return nil
}

func topicChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '%' || c == '|' || c == '_' || c == '-'
}

// checkText checks a string field's length and that it is UTF-8.
func checkText(field, s string, max int, off int) error {
	if len(s) > max {
		return &FieldError{Field: field, Offset: off, Err: ErrTooLarge,
			Reason: fmt.Sprintf("%d bytes, limit %d", len(s), max)}
	}
	if !utf8.ValidString(s) {
		return &FieldError{Field: field, Offset: off, Reason: "not UTF-8", Err: ErrBadMessage}
	}
	return nil
}

// checkSeq enforces "a sequence only with a producer id, and then >= 1", so
// that 0 can mean "nothing applied yet" in the deduplication table.
func checkSeq(producer string, seq uint64, off int) error {
	if producer == "" && seq != 0 {
		return &FieldError{Field: "seq", Offset: off, Err: ErrBadMessage,
			Reason: fmt.Sprintf("sequence %d without a producer id", seq)}
	}
	if producer != "" && seq == 0 {
		return &FieldError{Field: "seq", Offset: off, Err: ErrBadMessage,
			Reason: "producer id with sequence 0 (sequences start at 1)"}
	}
	return nil
}

// TagsCode is the tag hash RocketMQ stores in a ConsumeQueue record
// (MessageExtBrokerInner.tagsString2tagsCode): 0 for no tags, else Java's
// String.hashCode of the whole tags string (over UTF-16 code units, 32-bit
// wrap-around), sign-extended to 64 bits.
func TagsCode(tags string) int64 {
	var h int32
	for _, r := range tags {
		if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
			h = 31*h + r1
			h = 31*h + r2
			continue
		}
		h = 31*h + r
	}
	return int64(h)
}

// decoder reads big-endian fields and remembers the first error, so that
// DecodeMessage reads top-down like the format table.
type decoder struct {
	b     []byte
	off   int
	err   error
	names *nameCache
}

// nameCache holds, per name field, strings that passed the field's checks.
type nameCache [4]map[string]string

type nameKind uint8

const (
	nameTopic nameKind = iota
	nameTags
	nameKeys
	nameProducer
)

// decodeKnown decodes b when it is well formed and every non-empty name in
// it is in the cache — checked already, so nothing is left to check but the
// sequence rule — without building errors or closures: the broker's
// steady state, where one producer sends to one topic again and again.
// Anything else (ok false) goes through the full decoder.
func (c *nameCache) decodeKnown(b []byte) (m Message, ok bool) {
	name := func(k nameKind, p []byte) (string, bool) {
		if len(p) == 0 {
			return "", k != nameTopic
		}
		s, ok := c[k][string(p)]
		return s, ok
	}
	if len(b) < 2 || b[0] != MessageFormatV1 {
		return Message{}, false
	}
	off := 2 + int(b[1])
	if len(b) < off+1 {
		return Message{}, false
	}
	topic := b[2:off]
	n := int(b[off])
	off++
	if len(b) < off+n+2 {
		return Message{}, false
	}
	tags := b[off : off+n]
	off += n
	n = int(binary.BigEndian.Uint16(b[off:]))
	off += 2
	if len(b) < off+n+1 {
		return Message{}, false
	}
	keys := b[off : off+n]
	off += n
	n = int(b[off])
	off++
	if len(b) < off+n+12 {
		return Message{}, false
	}
	producer := b[off : off+n]
	off += n
	m.Seq = binary.BigEndian.Uint64(b[off:])
	bodyLen := binary.BigEndian.Uint32(b[off+8:])
	off += 12
	if uint64(bodyLen) != uint64(len(b)-off) || (len(producer) == 0) != (m.Seq == 0) {
		return Message{}, false
	}
	var ok1, ok2, ok3, ok4 bool
	m.Topic, ok1 = name(nameTopic, topic)
	m.Tags, ok2 = name(nameTags, tags)
	m.Keys, ok3 = name(nameKeys, keys)
	m.Producer, ok4 = name(nameProducer, producer)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return Message{}, false
	}
	if bodyLen > 0 {
		m.Body = b[off:len(b):len(b)]
	}
	return m, true
}

// maxNames bounds each field's cache.
const maxNames = 256

func (d *decoder) fail(field string, off int, reason string, sentinel error) error {
	if d.err == nil {
		d.err = &FieldError{Field: field, Offset: off, Reason: reason, Err: sentinel}
	}
	return d.err
}

// take returns the next n bytes, or nil after recording a truncation error.
func (d *decoder) take(field string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b)-d.off {
		d.fail(field, d.off, fmt.Sprintf("needs %d bytes, %d remain", n, len(d.b)-d.off), ErrCorrupt)
		return nil
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p
}

func (d *decoder) u8(field string) uint8 {
	if p := d.take(field, 1); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) u16(field string) uint16 {
	if p := d.take(field, 2); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

func (d *decoder) u32(field string) uint32 {
	if p := d.take(field, 4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) u64(field string) uint64 {
	if p := d.take(field, 8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

// str reads an n-byte name field; cached reports that it came from the
// name cache, so it passed its checks before.
func (d *decoder) str(k nameKind, field string, n int) (s string, cached bool) {
	p := d.take(field, n)
	if len(p) == 0 || d.names == nil {
		return string(p), false
	}
	if s, ok := d.names[k][string(p)]; ok {
		return s, true
	}
	return string(p), false
}

// remember caches a name that passed its checks.
func (d *decoder) remember(k nameKind, s string) {
	if d.names == nil || s == "" {
		return
	}
	if d.names[k] == nil {
		d.names[k] = map[string]string{}
	}
	if len(d.names[k]) < maxNames {
		d.names[k][s] = s
	}
}
