//go:build js && wasm

// Package jsbridge is what the playground's engines (wasm/ for DLedger
// mode, wasm/controller for Controller mode) share of the syscall/js
// crossing: every call answers a JSON string, a panic becomes {"error"},
// arguments are read leniently, and the engine announces itself ready.
package jsbridge

import (
	"encoding/json"
	"strconv"
	"syscall/js"
)

// Call is one function an engine exposes: its arguments in, JSON out.
type Call func(args []js.Value) string

// Serve exposes calls on globalThis.dledger, tells the page (or worker)
// the engine is ready (globalThis.dledgerReady), and keeps the Go side
// alive for the callbacks.
func Serve(calls map[string]Call) {
	api := js.Global().Get("Object").New()
	for name, c := range calls {
		api.Set(name, js.FuncOf(Guard(c)))
	}
	js.Global().Set("dledger", api)
	if ready := js.Global().Get("dledgerReady"); ready.Type() == js.TypeFunction {
		ready.Invoke()
	}
	select {}
}

// Guard turns a call into a js.FuncOf body that always returns a string
// and converts a panic into {"error"} instead of killing the worker. (Not
// inlined: the caller would get a copy of the closure per call.)
//
//go:noinline
func Guard(h Call) func(js.Value, []js.Value) any {
	return func(_ js.Value, args []js.Value) (out any) {
		defer func() {
			if r := recover(); r != nil {
				msg := "internal error"
				switch v := r.(type) {
				case error:
					msg += ": " + v.Error()
				case string:
					msg += ": " + v
				}
				out = ErrorJSON(msg)
			}
		}()
		return h(args)
	}
}

// ErrorJSON is {"error": msg}.
func ErrorJSON(msg string) string { return `{"error":` + Quote(msg) + `}` }

// Quote is s as a JSON string.
func Quote(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// StringArg returns args[i] as a string ("" when missing or not a string).
func StringArg(args []js.Value, i int) string {
	if i >= len(args) || args[i].Type() != js.TypeString {
		return ""
	}
	return args[i].String()
}

// BytesArg returns args[i], a string or a Uint8Array, as bytes.
func BytesArg(args []js.Value, i int) []byte {
	if i < len(args) && args[i].Type() == js.TypeObject {
		data := make([]byte, args[i].Get("length").Int())
		js.CopyBytesToGo(data, args[i])
		return data
	}
	return []byte(StringArg(args, i))
}

// NumberArg returns args[i] as a number (0 when missing, NaN or not a number).
func NumberArg(args []js.Value, i int) float64 {
	if i >= len(args) {
		return 0
	}
	switch args[i].Type() {
	case js.TypeNumber:
		f := args[i].Float()
		if f != f {
			return 0
		}
		return f
	case js.TypeString:
		f, err := strconv.ParseFloat(args[i].String(), 64)
		if err != nil {
			return 0
		}
		return f
	}
	return 0
}
