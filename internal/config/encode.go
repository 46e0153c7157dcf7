package config

import (
	"fmt"
	"reflect"
	"strconv"

	"github.com/wanlb/wanlb/internal/uciconf"
)

// Encode writes the fields of v (a struct, or a pointer to one) tagged
// `uci:"<option>"` into sec: the one way wanlb's writers turn values into
// UCI text. Every tagged option must be in the schema for sec's type, with
// a Go type that fits its kind: bool for bool, int for int, float64 for
// seconds, string for enum and string, []string for list. An empty string
// or list deletes the option, as uci does, so its default applies. Other
// options, their order and other sections are left as they are.
func Encode(sec *uciconf.Section, v any) error {
	rv := reflect.Indirect(reflect.ValueOf(v))
	if rv.Kind() != reflect.Struct {
		return fmt.Errorf("config: Encode needs a struct, not %s", rv.Kind())
	}
	rt := rv.Type()
	for i := range rt.NumField() {
		name := rt.Field(i).Tag.Get("uci")
		if name == "" {
			continue
		}
		o, ok := Spec(sec.Type, name)
		if !ok {
			return fmt.Errorf("config: %s.%s is not in the schema", sec.Type, name)
		}
		if err := encodeOption(sec, o, rv.Field(i)); err != nil {
			return fmt.Errorf("config: %s.%s: %w", sec.Type, name, err)
		}
	}
	return nil
}

func encodeOption(sec *uciconf.Section, o Option, f reflect.Value) error {
	want := map[Kind]reflect.Kind{KindBool: reflect.Bool, KindInt: reflect.Int, KindSeconds: reflect.Float64,
		KindEnum: reflect.String, KindString: reflect.String, KindList: reflect.Slice}[o.Kind]
	if f.Kind() != want || (want == reflect.Slice && f.Type().Elem().Kind() != reflect.String) {
		return fmt.Errorf("a %s option cannot hold a Go %s", o.Kind, f.Type())
	}
	switch o.Kind {
	case KindBool:
		sec.Set(o.Name, bit(f.Bool()))
	case KindInt:
		sec.Set(o.Name, strconv.FormatInt(f.Int(), 10))
	case KindSeconds:
		sec.Set(o.Name, strconv.FormatFloat(f.Float(), 'f', -1, 64))
	case KindList:
		if f.Len() == 0 {
			sec.Delete(o.Name)
		} else {
			sec.SetList(o.Name, f.Interface().([]string))
		}
	default:
		if f.String() == "" {
			sec.Delete(o.Name)
		} else {
			sec.Set(o.Name, f.String())
		}
	}
	return nil
}

func bit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
