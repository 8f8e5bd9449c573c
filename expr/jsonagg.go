package expr

import "github.com/sluice-db/sluice/types"

// JSONArrayOf builds the json_agg / jsonb_agg result from collected values.
func JSONArrayOf(elem *types.T, vals []types.Datum, binary bool, cfg *types.Config) (types.Datum, error) {
	ctx := &EvalCtx{Cfg: cfg}
	arr := types.JSONValue{Kind: types.JSONArray, Elems: make([]types.JSONValue, len(vals))}
	for i, v := range vals {
		j, err := datumToJSON(ctx, elem, v)
		if err != nil {
			return nil, err
		}
		arr.Elems[i] = j
	}
	return types.FormatJSONB(arr), nil
}
