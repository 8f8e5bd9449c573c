package expr

import (
	"math"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"

	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// json and jsonb values are stored as text (jsonb canonical). Operators parse
// with types.ParseJSON and print with types.FormatJSONB.
// NB: json (not jsonb) inputs are parsed with the jsonb model too, so -> on a
// json value returns canonical (key-sorted, deduplicated) text where Postgres
// would return the original text slice.

func registerJSONFuncs(r *Registry) {
	J, JB, T, I4, B := types.JSON, types.JSONB, types.Text, types.Int4, types.Bool
	textArr := types.ArrayOf(types.Text)

	for _, jt := range []*types.T{J, JB} {
		jt := jt
		r.Add(&Overload{Name: "->", Args: ts(jt, T), Ret: jt, Infix: true, Row: jsonGet(jt, false, func(v types.JSONValue, a types.Datum) (types.JSONValue, bool) {
			return v.Field(a.(string))
		})})
		r.Add(&Overload{Name: "->", Args: ts(jt, I4), Ret: jt, Infix: true, Row: jsonGet(jt, false, func(v types.JSONValue, a types.Datum) (types.JSONValue, bool) {
			return v.Index(int(a.(int64)))
		})})
		r.Add(&Overload{Name: "->>", Args: ts(jt, T), Ret: T, Infix: true, Row: jsonGet(jt, true, func(v types.JSONValue, a types.Datum) (types.JSONValue, bool) {
			return v.Field(a.(string))
		})})
		r.Add(&Overload{Name: "->>", Args: ts(jt, I4), Ret: T, Infix: true, Row: jsonGet(jt, true, func(v types.JSONValue, a types.Datum) (types.JSONValue, bool) {
			return v.Index(int(a.(int64)))
		})})
		r.Add(&Overload{Name: "#>", Args: ts(jt, textArr), Ret: jt, Infix: true, Row: jsonGet(jt, false, jsonPathStep)})
		r.Add(&Overload{Name: "#>>", Args: ts(jt, textArr), Ret: T, Infix: true, Row: jsonGet(jt, true, jsonPathStep)})
		prefix := "jsonb"
		if jt == J {
			prefix = "json"
		}
		r.Add(&Overload{Name: prefix + "_extract_path", Args: ts(jt), Variadic: T, Ret: jt, Row: jsonExtractPath(jt, false)})
		r.Add(&Overload{Name: prefix + "_extract_path_text", Args: ts(jt), Variadic: T, Ret: T, Row: jsonExtractPath(jt, true)})
		r.Add(&Overload{Name: prefix + "_typeof", Args: ts(jt), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
			v, err := types.ParseJSON(a[0].(string))
			if err != nil {
				return nil, err
			}
			return v.TypeName(), nil
		}})
		r.Add(&Overload{Name: prefix + "_array_length", Args: ts(jt), Ret: I4, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
			v, err := types.ParseJSON(a[0].(string))
			if err != nil {
				return nil, err
			}
			switch v.Kind {
			case types.JSONArray:
				return int64(len(v.Elems)), nil
			case types.JSONObject:
				return nil, errInvalidParam("cannot get array length of a non-array")
			}
			return nil, errInvalidParam("cannot get array length of a scalar")
		}})
		r.Add(&Overload{Name: prefix + "_strip_nulls", Args: ts(jt), Ret: jt, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
			v, err := types.ParseJSON(a[0].(string))
			if err != nil {
				return nil, err
			}
			return formatJSONAs(jt, stripNulls(v)), nil
		}})
		// Set-returning functions, returned as arrays for the planner to expand.
		r.Add(&Overload{Name: prefix + "_array_elements", Args: ts(jt), Ret: types.ArrayOf(jt), Row: jsonArrayElements(jt, false)})
		r.Add(&Overload{Name: prefix + "_array_elements_text", Args: ts(jt), Ret: textArr, Row: jsonArrayElements(jt, true)})
		r.Add(&Overload{Name: prefix + "_object_keys", Args: ts(jt), Ret: textArr, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
			v, err := types.ParseJSON(a[0].(string))
			if err != nil {
				return nil, err
			}
			if v.Kind != types.JSONObject {
				return nil, errInvalidParam("cannot call %s_object_keys on %s", prefix, jsonKindPhrase(v))
			}
			arr := &types.Array{Elem: types.Text, Elems: make([]types.Datum, len(v.Pairs))}
			for i, p := range v.Pairs {
				arr.Elems[i] = p.Key
			}
			return arr, nil
		}})
		r.Add(&Overload{Name: prefix + "_each", Args: ts(jt), Ret: types.ArrayOf(jt), Row: jsonEach(jt, prefix+"_each", false)})
		r.Add(&Overload{Name: prefix + "_each_text", Args: ts(jt), Ret: textArr, Row: jsonEach(jt, prefix+"_each_text", true)})
	}
	r.Add(&Overload{Name: "@>", Args: ts(JB, JB), Ret: B, Infix: true, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return jsonContainsDatum(a[0], a[1])
	}})
	r.Add(&Overload{Name: "<@", Args: ts(JB, JB), Ret: B, Infix: true, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		return jsonContainsDatum(a[1], a[0])
	}})
	r.Add(&Overload{Name: "?", Args: ts(JB, T), Ret: B, Infix: true, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		v, err := types.ParseJSON(a[0].(string))
		if err != nil {
			return nil, err
		}
		return jsonHasKey(v, a[1].(string)), nil
	}})
	for _, name := range []string{"?|", "?&"} {
		any := name == "?|"
		r.Add(&Overload{Name: name, Args: ts(JB, textArr), Ret: B, Infix: true, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
			v, err := types.ParseJSON(a[0].(string))
			if err != nil {
				return nil, err
			}
			for _, k := range a[1].(*types.Array).Elems {
				if k == nil {
					continue
				}
				has := jsonHasKey(v, k.(string))
				if any && has {
					return true, nil
				}
				if !any && !has {
					return false, nil
				}
			}
			return !any, nil
		}})
	}
	r.Add(&Overload{Name: "||", Args: ts(JB, JB), Ret: JB, Infix: true, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		x, err := types.ParseJSON(a[0].(string))
		if err != nil {
			return nil, err
		}
		y, err := types.ParseJSON(a[1].(string))
		if err != nil {
			return nil, err
		}
		return types.FormatJSONB(jsonConcat(x, y)), nil
	}})
	r.Add(&Overload{Name: "-", Args: ts(JB, T), Ret: JB, Infix: true, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		v, err := types.ParseJSON(a[0].(string))
		if err != nil {
			return nil, err
		}
		return jsonDeleteKeys(v, []string{a[1].(string)})
	}})
	r.Add(&Overload{Name: "-", Args: ts(JB, textArr), Ret: JB, Infix: true, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		v, err := types.ParseJSON(a[0].(string))
		if err != nil {
			return nil, err
		}
		var keys []string
		for _, k := range a[1].(*types.Array).Elems {
			if k != nil {
				keys = append(keys, k.(string))
			}
		}
		return jsonDeleteKeys(v, keys)
	}})
	r.Add(&Overload{Name: "-", Args: ts(JB, I4), Ret: JB, Infix: true, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		v, err := types.ParseJSON(a[0].(string))
		if err != nil {
			return nil, err
		}
		switch v.Kind {
		case types.JSONArray:
			i := int(a[1].(int64))
			if i < 0 {
				i += len(v.Elems)
			}
			if i >= 0 && i < len(v.Elems) {
				v.Elems = append(append([]types.JSONValue{}, v.Elems[:i]...), v.Elems[i+1:]...)
			}
			return types.FormatJSONB(v), nil
		case types.JSONObject:
			return nil, errInvalidParam("cannot delete from object using integer index")
		}
		return nil, errInvalidParam("cannot delete from scalar")
	}})
	r.Add(&Overload{Name: "#-", Args: ts(JB, textArr), Ret: JB, Infix: true, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		v, err := types.ParseJSON(a[0].(string))
		if err != nil {
			return nil, err
		}
		path := textElems(a[1].(*types.Array))
		nv, err := jsonSetPath(v, path, nil, false)
		if err != nil {
			return nil, err
		}
		return types.FormatJSONB(nv), nil
	}})

	r.Add(&Overload{Name: "jsonb_pretty", Args: ts(JB), Ret: T, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		v, err := types.ParseJSON(a[0].(string))
		if err != nil {
			return nil, err
		}
		return string(appendPretty(nil, v, 0)), nil
	}})
	for _, n := range []int{3, 4} {
		args := ts(JB, textArr, JB)
		if n == 4 {
			args = append(args, B)
		}
		r.Add(&Overload{Name: "jsonb_set", Args: args, Ret: JB, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
			v, err := types.ParseJSON(a[0].(string))
			if err != nil {
				return nil, err
			}
			nv, err := types.ParseJSON(a[2].(string))
			if err != nil {
				return nil, err
			}
			create := true
			if len(a) > 3 {
				create = a[3].(bool)
			}
			res, err := jsonSetPath(v, textElems(a[1].(*types.Array)), &nv, create)
			if err != nil {
				return nil, err
			}
			return types.FormatJSONB(res), nil
		}})
	}
	r.Add(&Overload{Name: "jsonb_insert", Args: ts(JB, textArr, JB), Ret: JB, Row: func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		v, err := types.ParseJSON(a[0].(string))
		if err != nil {
			return nil, err
		}
		nv, err := types.ParseJSON(a[2].(string))
		if err != nil {
			return nil, err
		}
		path := textElems(a[1].(*types.Array))
		res, err := jsonSetPath(v, path, &nv, true)
		if err != nil {
			return nil, err
		}
		return types.FormatJSONB(res), nil
	}})

	// Constructors.
	for _, jt := range []*types.T{J, JB} {
		jt := jt
		prefix := "jsonb"
		if jt == J {
			prefix = "json"
		}
		r.Add(&Overload{Name: "to_" + prefix, Args: ts(AnyElement), Ret: jt, Vec: typedRows(false, func(ctx *EvalCtx, typs []*types.T, row []types.Datum) (types.Datum, error) {
			v, err := datumToJSON(ctx, typs[0], row[0])
			if err != nil {
				return nil, err
			}
			if jt == J && typs[0].Oid == types.OidJSON {
				return row[0], nil
			}
			return formatJSONAs(jt, v), nil
		})})
		r.Add(&Overload{Name: prefix + "_build_object", Variadic: AnyType, Ret: jt, NullOK: true, Vec: typedRows(true, func(ctx *EvalCtx, typs []*types.T, row []types.Datum) (types.Datum, error) {
			if len(row)%2 != 0 {
				return nil, errInvalidParam("argument list must have even number of elements").
					WithHint("The arguments of %s_build_object() must consist of alternating keys and values.", prefix)
			}
			pairs := make([]types.JSONPair, 0, len(row)/2)
			for i := 0; i < len(row); i += 2 {
				if row[i] == nil {
					return nil, errInvalidParam("argument %d: key must not be null", i+1)
				}
				v, err := datumToJSON(ctx, typs[i+1], row[i+1])
				if err != nil {
					return nil, err
				}
				pairs = append(pairs, types.JSONPair{Key: datumText(ctx, typs[i], row[i]), Val: v})
			}
			if jt == J {
				return formatJSONObjectText(pairs), nil
			}
			return types.FormatJSONB(types.NewJSONObject(pairs)), nil
		})})
		r.Add(&Overload{Name: prefix + "_build_array", Variadic: AnyType, Ret: jt, NullOK: true, Vec: typedRows(true, func(ctx *EvalCtx, typs []*types.T, row []types.Datum) (types.Datum, error) {
			arr := types.JSONValue{Kind: types.JSONArray, Elems: make([]types.JSONValue, len(row))}
			for i, d := range row {
				v, err := datumToJSON(ctx, typs[i], d)
				if err != nil {
					return nil, err
				}
				arr.Elems[i] = v
			}
			return types.FormatJSONB(arr), nil
		})})
	}
}

func textElems(a *types.Array) []string {
	out := make([]string, len(a.Elems))
	for i, e := range a.Elems {
		if e != nil {
			out[i] = e.(string)
		}
	}
	return out
}

func jsonPathStep(v types.JSONValue, a types.Datum) (types.JSONValue, bool) {
	arr := a.(*types.Array)
	for _, e := range arr.Elems {
		if e == nil {
			return types.JSONValue{}, false
		}
	}
	return v.Path(textElems(arr))
}

// jsonGet builds ->, ->>, #> and #>>: asText returns the text form (JSON
// null becomes SQL NULL).
func jsonGet(jt *types.T, asText bool, get func(types.JSONValue, types.Datum) (types.JSONValue, bool)) RowFunc {
	return func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		v, err := types.ParseJSON(a[0].(string))
		if err != nil {
			return nil, err
		}
		res, ok := get(v, a[1])
		if !ok {
			return nil, nil
		}
		if asText {
			s, ok := res.Text()
			if !ok {
				return nil, nil
			}
			return s, nil
		}
		return formatJSONAs(jt, res), nil
	}
}

func jsonExtractPath(jt *types.T, asText bool) RowFunc {
	return func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		v, err := types.ParseJSON(a[0].(string))
		if err != nil {
			return nil, err
		}
		path := make([]string, len(a)-1)
		for i, p := range a[1:] {
			path[i] = p.(string)
		}
		res, ok := v.Path(path)
		if !ok {
			return nil, nil
		}
		if asText {
			s, ok := res.Text()
			if !ok {
				return nil, nil
			}
			return s, nil
		}
		return formatJSONAs(jt, res), nil
	}
}

func formatJSONAs(_ *types.T, v types.JSONValue) string { return types.FormatJSONB(v) }

// formatJSONObjectText prints json_build_object's text form: {"a" : 1, "b" : 2}.
func formatJSONObjectText(pairs []types.JSONPair) string {
	buf := []byte{'{'}
	for i, p := range pairs {
		if i > 0 {
			buf = append(buf, ", "...)
		}
		buf = types.AppendJSONString(buf, p.Key)
		buf = append(buf, " : "...)
		buf = append(buf, types.FormatJSONB(p.Val)...)
	}
	return string(append(buf, '}'))
}

func jsonKindPhrase(v types.JSONValue) string {
	switch v.Kind {
	case types.JSONArray:
		return "an array"
	case types.JSONObject:
		return "an object"
	}
	return "a scalar"
}

func jsonArrayElements(jt *types.T, asText bool) RowFunc {
	return func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		v, err := types.ParseJSON(a[0].(string))
		if err != nil {
			return nil, err
		}
		if v.Kind != types.JSONArray {
			if v.Kind == types.JSONObject {
				return nil, errInvalidParam("cannot extract elements from an object")
			}
			return nil, errInvalidParam("cannot extract elements from a scalar")
		}
		elem := jt
		if asText {
			elem = types.Text
		}
		arr := &types.Array{Elem: elem, Elems: make([]types.Datum, len(v.Elems))}
		for i, e := range v.Elems {
			if asText {
				if s, ok := e.Text(); ok {
					arr.Elems[i] = s
				}
			} else {
				arr.Elems[i] = formatJSONAs(jt, e)
			}
		}
		return arr, nil
	}
}

// jsonEach returns one 2-element array (key, value) per object member.
func jsonEach(jt *types.T, fname string, asText bool) RowFunc {
	return func(_ *EvalCtx, a []types.Datum) (types.Datum, error) {
		v, err := types.ParseJSON(a[0].(string))
		if err != nil {
			return nil, err
		}
		if v.Kind != types.JSONObject {
			return nil, errInvalidParam("cannot call %s on a non-object", fname)
		}
		vt := jt
		if asText {
			vt = types.Text
		}
		out := &types.Array{Elem: types.ArrayOf(vt), Elems: make([]types.Datum, len(v.Pairs))}
		for i, p := range v.Pairs {
			var val types.Datum
			if asText {
				if s, ok := p.Val.Text(); ok {
					val = s
				}
			} else {
				val = formatJSONAs(jt, p.Val)
			}
			out.Elems[i] = &types.Array{Elem: vt, Elems: []types.Datum{p.Key, val}}
		}
		return out, nil
	}
}

func jsonContainsDatum(a, b types.Datum) (types.Datum, error) {
	x, err := types.ParseJSON(a.(string))
	if err != nil {
		return nil, err
	}
	y, err := types.ParseJSON(b.(string))
	if err != nil {
		return nil, err
	}
	return x.Contains(y), nil
}

func jsonHasKey(v types.JSONValue, k string) bool {
	switch v.Kind {
	case types.JSONObject:
		_, ok := v.Field(k)
		return ok
	case types.JSONArray:
		for _, e := range v.Elems {
			if e.Kind == types.JSONString && e.Str == k {
				return true
			}
		}
	case types.JSONString:
		return v.Str == k
	}
	return false
}

// jsonConcat is jsonb ||: objects merge (right wins), anything else
// concatenates as arrays.
func jsonConcat(x, y types.JSONValue) types.JSONValue {
	if x.Kind == types.JSONObject && y.Kind == types.JSONObject {
		return types.NewJSONObject(append(append([]types.JSONPair{}, x.Pairs...), y.Pairs...))
	}
	asArr := func(v types.JSONValue) []types.JSONValue {
		if v.Kind == types.JSONArray {
			return v.Elems
		}
		return []types.JSONValue{v}
	}
	return types.JSONValue{Kind: types.JSONArray, Elems: append(append([]types.JSONValue{}, asArr(x)...), asArr(y)...)}
}

func jsonDeleteKeys(v types.JSONValue, keys []string) (types.Datum, error) {
	del := func(k string) bool {
		for _, x := range keys {
			if x == k {
				return true
			}
		}
		return false
	}
	switch v.Kind {
	case types.JSONObject:
		var ps []types.JSONPair
		for _, p := range v.Pairs {
			if !del(p.Key) {
				ps = append(ps, p)
			}
		}
		v.Pairs = ps
		if v.Pairs == nil {
			v.Pairs = []types.JSONPair{}
		}
	case types.JSONArray:
		var es []types.JSONValue
		for _, e := range v.Elems {
			if !(e.Kind == types.JSONString && del(e.Str)) {
				es = append(es, e)
			}
		}
		v.Elems = es
		if v.Elems == nil {
			v.Elems = []types.JSONValue{}
		}
	default:
		return nil, errInvalidParam("cannot delete from scalar")
	}
	return types.FormatJSONB(v), nil
}

func stripNulls(v types.JSONValue) types.JSONValue {
	switch v.Kind {
	case types.JSONObject:
		ps := make([]types.JSONPair, 0, len(v.Pairs))
		for _, p := range v.Pairs {
			if p.Val.Kind != types.JSONNull {
				ps = append(ps, types.JSONPair{Key: p.Key, Val: stripNulls(p.Val)})
			}
		}
		v.Pairs = ps
	case types.JSONArray:
		es := make([]types.JSONValue, len(v.Elems))
		for i, e := range v.Elems {
			es[i] = stripNulls(e)
		}
		v.Elems = es
	}
	return v
}

// jsonSetPath replaces (nv != nil) or deletes (nv == nil) the value at path.
// Missing last keys are added when create is set, as jsonb_set does.
func jsonSetPath(v types.JSONValue, path []string, nv *types.JSONValue, create bool) (types.JSONValue, error) {
	if len(path) == 0 {
		if nv == nil {
			return v, nil
		}
		return *nv, nil
	}
	key, rest := path[0], path[1:]
	switch v.Kind {
	case types.JSONObject:
		ps := append([]types.JSONPair{}, v.Pairs...)
		for i, p := range ps {
			if p.Key == key {
				if nv == nil && len(rest) == 0 {
					ps = append(ps[:i], ps[i+1:]...)
					v.Pairs = ps
					return v, nil
				}
				nvv, err := jsonSetPath(p.Val, rest, nv, create)
				if err != nil {
					return v, err
				}
				ps[i].Val = nvv
				v.Pairs = ps
				return v, nil
			}
		}
		if nv != nil && create && len(rest) == 0 {
			return types.NewJSONObject(append(ps, types.JSONPair{Key: key, Val: *nv})), nil
		}
		return v, nil
	case types.JSONArray:
		idx, err := strconv.Atoi(strings.TrimSpace(key))
		if err != nil {
			return v, sqlerr.New(sqlerr.InvalidTextRepresentation, "path element at position %d is not an integer: \"%s\"", 1, key)
		}
		n := len(v.Elems)
		if idx < 0 {
			idx += n
		}
		es := append([]types.JSONValue{}, v.Elems...)
		if idx >= 0 && idx < n {
			if nv == nil && len(rest) == 0 {
				v.Elems = append(es[:idx], es[idx+1:]...)
				return v, nil
			}
			nvv, err := jsonSetPath(es[idx], rest, nv, create)
			if err != nil {
				return v, err
			}
			es[idx] = nvv
			v.Elems = es
			return v, nil
		}
		if nv != nil && create && len(rest) == 0 {
			if idx < 0 {
				es = append([]types.JSONValue{*nv}, es...)
			} else {
				es = append(es, *nv)
			}
			v.Elems = es
		}
		return v, nil
	}
	if nv == nil {
		return v, errInvalidParam("cannot delete path in scalar")
	}
	return v, errInvalidParam("cannot set path in scalar")
}

// appendPretty prints jsonb_pretty's layout: four-space indents.
func appendPretty(buf []byte, v types.JSONValue, depth int) []byte {
	indent := func(d int) {
		buf = append(buf, '\n')
		for i := 0; i < d; i++ {
			buf = append(buf, "    "...)
		}
	}
	switch v.Kind {
	case types.JSONArray:
		if len(v.Elems) == 0 {
			return append(buf, "[\n"+strings.Repeat("    ", depth)+"]"...)
		}
		buf = append(buf, '[')
		for i, e := range v.Elems {
			if i > 0 {
				buf = append(buf, ',')
			}
			indent(depth + 1)
			buf = appendPretty(buf, e, depth+1)
		}
		indent(depth)
		return append(buf, ']')
	case types.JSONObject:
		if len(v.Pairs) == 0 {
			return append(buf, "{\n"+strings.Repeat("    ", depth)+"}"...)
		}
		buf = append(buf, '{')
		for i, p := range v.Pairs {
			if i > 0 {
				buf = append(buf, ',')
			}
			indent(depth + 1)
			buf = types.AppendJSONString(buf, p.Key)
			buf = append(buf, ": "...)
			buf = appendPretty(buf, p.Val, depth+1)
		}
		indent(depth)
		return append(buf, '}')
	}
	return append(buf, types.FormatJSONB(v)...)
}

// datumToJSON converts a SQL value to JSON as to_jsonb does.
func datumToJSON(ctx *EvalCtx, t *types.T, d types.Datum) (types.JSONValue, error) {
	if d == nil {
		return types.JSONValue{Kind: types.JSONNull}, nil
	}
	switch t.Family {
	case types.BoolFamily:
		return types.JSONValue{Kind: types.JSONBool, Bool: d.(bool)}, nil
	case types.IntFamily, types.OidFamily:
		return types.JSONValue{Kind: types.JSONNumber, Num: apd.New(d.(int64), 0)}, nil
	case types.FloatFamily:
		f := d.(float64)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return types.JSONValue{Kind: types.JSONString, Str: datumText(ctx, t, d)}, nil
		}
		n, _, err := apd.NewFromString(datumText(ctx, t, d))
		if err != nil {
			return types.JSONValue{Kind: types.JSONString, Str: datumText(ctx, t, d)}, nil
		}
		return types.JSONValue{Kind: types.JSONNumber, Num: n}, nil
	case types.NumericFamily:
		n := d.(*apd.Decimal)
		if n.Form != apd.Finite {
			return types.JSONValue{Kind: types.JSONString, Str: datumText(ctx, t, d)}, nil
		}
		return types.JSONValue{Kind: types.JSONNumber, Num: n}, nil
	case types.JSONFamily:
		return types.ParseJSON(d.(string))
	case types.ArrayFamily:
		arr := d.(*types.Array)
		elem := arr.Elem
		if elem == nil {
			elem = t.Elem
		}
		out := types.JSONValue{Kind: types.JSONArray, Elems: make([]types.JSONValue, len(arr.Elems))}
		for i, e := range arr.Elems {
			v, err := datumToJSON(ctx, elem, e)
			if err != nil {
				return v, err
			}
			out.Elems[i] = v
		}
		return out, nil
	case types.TimestampFamily, types.TimestampTZFamily, types.DateFamily:
		s := datumText(ctx, t, d)
		if x, ok := d.(int64); ok && isInf(x) {
			return types.JSONValue{Kind: types.JSONString, Str: s}, nil
		}
		if t.Family != types.DateFamily {
			// JSON uses ISO 8601: a T separator and a full ±hh:mm offset.
			s = strings.Replace(s, " ", "T", 1)
			if t.Family == types.TimestampTZFamily {
				if k := strings.LastIndexAny(s, "+-"); k > 10 && len(s)-k == 3 {
					s += ":00"
				}
			}
		}
		return types.JSONValue{Kind: types.JSONString, Str: s}, nil
	}
	return types.JSONValue{Kind: types.JSONString, Str: datumText(ctx, t, d)}, nil
}

// RowJSONB is the jsonb object of a row, a member per column, as
// to_jsonb(row) makes it; cfg renders the values JSON holds as text.
func RowJSONB(cfg *types.Config, names []string, typs []*types.T, row []types.Datum) (string, error) {
	ctx := &EvalCtx{Cfg: cfg}
	pairs := make([]types.JSONPair, len(row))
	for i, d := range row {
		v, err := datumToJSON(ctx, typs[i], d)
		if err != nil {
			return "", err
		}
		pairs[i] = types.JSONPair{Key: names[i], Val: v}
	}
	return types.FormatJSONB(types.NewJSONObject(pairs)), nil
}
