package testsrv

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseAnnotatedCSV(t *testing.T) {
	crlf := func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
	tests := []struct {
		name    string
		body    string
		want    []map[string]string
		wantErr string
	}{
		{name: "empty result", body: "\r\n", want: nil},
		{
			name: "two yields with different schemas",
			body: crlf(`#datatype,string,long,string,string,long
#group,false,false,true,true,false
#default,a,,,,
,result,table,_field,d,_value
,,0,diastolic,x,1
,,1,systolic,"y,z",2

#datatype,string,long,string,double
#group,false,false,true,false
#default,b,,,
,result,table,_measurement,_value
,,0,m,6.5

`),
			want: []map[string]string{
				{"result": "a", "table": "0", "_field": "diastolic", "d": "x", "_value": "1"},
				{"result": "a", "table": "1", "_field": "systolic", "d": "y,z", "_value": "2"},
				{"result": "b", "table": "0", "_measurement": "m", "_value": "6.5"},
			},
		},
		{
			name: "error after the response began",
			body: crlf(`#datatype,string,string
#group,true,true
#default,,
,error,reference
,panic: out of memory,897
`),
			wantErr: "panic: out of memory",
		},
		{
			name:    "row wider than its header",
			body:    crlf("#default,_result,,\n,result,table,x\n,,0,1,2\n"),
			wantErr: "row has 5 columns",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAnnotatedCSV([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseAnnotatedCSV() error = %v; want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseAnnotatedCSV() error = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseAnnotatedCSV() = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestQuoteFlux(t *testing.T) {
	tests := []struct{ in, want string }{
		{`glucose`, `"glucose"`},
		{`a"b\c`, `"a\"b\\c"`},
		{`cost ${x}`, `"cost $" + "{x}"`},
	}
	for _, tt := range tests {
		if got := quoteFlux(tt.in); got != tt.want {
			t.Errorf("quoteFlux(%q) = %s; want %s", tt.in, got, tt.want)
		}
	}
}
