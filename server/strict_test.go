package server

import (
	"encoding/json"
	"strings"
	"testing"
)

type strictInner struct {
	Op   string      `json:"op"`
	By   json.Number `json:"by"`
	Deep *struct {
		X int `json:"x"`
	} `json:"deep"`
}

type strictBody struct {
	Name     string                     `json:"name"`
	Flag     bool                       `json:"flag"`
	N        int                        `json:"n"`
	Tags     []string                   `json:"tags"`
	Inner    *strictInner               `json:"inner"`
	Handlers map[string]json.RawMessage `json:"handlers"`
	Any      any                        `json:"any"`
	List     []strictInner              `json:"list"`
}

func TestDecodeStrict(t *testing.T) {
	var b strictBody
	if e := decodeStrict([]byte(`{"name":"a","flag":true,"n":3,"tags":["x"],"inner":{"op":"set","by":1.5,"deep":{"x":2}},
		"handlers":{"A":{"op":"x"},"B":[1]},"any":{"k":[1,2]},"list":[{"op":"y"}]}`), &b); e != nil {
		t.Fatal(e)
	}
	if b.Name != "a" || !b.Flag || b.N != 3 || b.Inner.By != "1.5" || b.Inner.Deep.X != 2 || string(b.Handlers["B"]) != "[1]" || b.List[0].Op != "y" {
		t.Fatalf("decoded %+v", b)
	}
	var nulls strictBody
	if e := decodeStrict([]byte(`{"name":null,"inner":null,"tags":null}`), &nulls); e != nil || nulls.Inner != nil {
		t.Fatalf("nulls: %v %+v", e, nulls)
	}
	for body, want := range map[string]string{
		`{"Name":"a"}`:                  `unknown field "Name"`,
		`{"name":"a","name":"b"}`:       `"name" given more than once`,
		`{"n\u0061me":"a"}`:             `written with escapes`,
		`{"name":1}`:                    `name must be a string, got a number`,
		`{"n":1.5}`:                     `n must be an integer`,
		`{"flag":"yes"}`:                `flag must be true or false`,
		`{"tags":"x"}`:                  `tags must be an array`,
		`{"tags":[1]}`:                  `tags[0] must be a string`,
		`{"inner":{"op":"a","nope":1}}`: `unknown field "nope" in inner`,
		`{"inner":{"deep":{"x":"1"}}}`:  `inner.deep.x must be an integer`,
		`{"list":[{"op":1}]}`:           `list[0].op must be a string`,
		`{"handlers":{"A":1,"A":2}}`:    `"handlers.A" given more than once`,
		`{"inner":{"by":"1"}}`:          `inner.by`,
		`[1]`:                           `must be a JSON object`,
		`{"name":"a"`:                   `invalid JSON`,
	} {
		var v strictBody
		e := decodeStrict([]byte(body), &v)
		if e == nil || e.status != 400 || !strings.Contains(e.msg, want) {
			t.Errorf("%s: got %v, want a 400 saying %q", body, e, want)
		}
	}
}
