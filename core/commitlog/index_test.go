package commitlog

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// IndexRecord.String is what fmt's %+v printed before the method existed.
func TestIndexRecordStringIsPlusV(t *testing.T) {
	type plain IndexRecord // the same fields, no methods
	r := IndexRecord{Magic: MagicNormal, Pos: 4096, Size: 77, Index: 12, Term: 3}
	assert.Equal(t, fmt.Sprintf("%+v", plain(r)), r.String())
	assert.Equal(t, r.String(), fmt.Sprintf("%+v", r))
}
