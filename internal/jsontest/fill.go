// Package jsontest fills Go values for tests of JSON formats: a value whose
// every field is set shows a field that does not survive a round trip (a
// missing tag, an omitempty that loses a value). Only tests import it.
package jsontest

import (
	"reflect"
	"strconv"
)

// Full sets every field of *p, recursively, to a value that is not the
// zero value and differs from field to field: numbers count up (some
// negative, some fractional), strings hold characters JSON escapes, bools
// are true, slices get two elements, maps two keys (inserted out of order),
// pointers a filled value.
func Full(p any) { fill(reflect.ValueOf(p).Elem(), new(int), true) }

// Empty makes every slice and map of *p, recursively, empty but not nil,
// and every pointer point at such a value; other fields stay zero. It tells
// [] from null and omitempty's "empty" from "nil".
func Empty(p any) { fill(reflect.ValueOf(p).Elem(), new(int), false) }

func fill(v reflect.Value, n *int, full bool) {
	*n++
	k := *n
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n, full)
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n, full)
	case reflect.Slice:
		size := 0
		if full {
			size = 2
		}
		v.Set(reflect.MakeSlice(v.Type(), size, size))
		for i := 0; i < size; i++ {
			fill(v.Index(i), n, full)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		if full {
			for _, key := range []string{"b" + strconv.Itoa(k), "a" + strconv.Itoa(k), "10"} {
				kv := reflect.New(v.Type().Key()).Elem()
				kv.SetString(key)
				ev := reflect.New(v.Type().Elem()).Elem()
				fill(ev, n, full)
				v.SetMapIndex(kv, ev)
			}
		}
	case reflect.String:
		if full {
			v.SetString("s" + strconv.Itoa(k) + ` <b>&amp; "q" \ é 主 ` + "\u2028\t\x01")
		}
	case reflect.Bool:
		v.SetBool(full)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if full {
			x := int64(k)
			if k%3 == 0 {
				x = -x
			}
			v.SetInt(x)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if full {
			v.SetUint(uint64(k) << (k % 40))
		}
	case reflect.Float32, reflect.Float64:
		if full {
			v.SetFloat(float64(k)/8 + float64(k%2)*1e-9)
		}
	default:
		panic("jsontest: cannot fill a " + v.Type().String())
	}
}
