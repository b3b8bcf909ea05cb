Attribute VB_Name = "LedgerExport"
' Ledger Export Toolkit: the callbacks of the "Ledger export" ribbon tab (customUI14.xml).
' Each button runs a function of the Python module toolkit.excel through xlwings RunPython.
' Buttons that read the workbook first save a copy of it (unsaved edits included) and pass its
' path as copy='...', so Python reads the whole book from a file at once, not cell by cell.
' This file is the source: the workbook's module is built from it (ledger-export workbook new).
Option Explicit

Private Const PY_CALL As String = "import toolkit.excel; toolkit.excel."

Public Sub OnValidate(control As IRibbonControl)
    RunToolkit "validate", "", True
End Sub

Public Sub OnSuggestAccounts(control As IRibbonControl)
    RunToolkit "suggest_accounts", "", True
End Sub

Public Sub OnAssignCustomerNumbers(control As IRibbonControl)
    RunToolkit "assign_customer_numbers", "", True
End Sub

Public Sub OnMatchCustomers(control As IRibbonControl)
    RunToolkit "match_customers", "", True
End Sub

Public Sub OnApplyCustomers(control As IRibbonControl)
    RunToolkit "apply_customer_matches", "", True
End Sub

Public Sub OnGenerateExport(control As IRibbonControl)
    RunToolkit "generate_export", "", True
End Sub

Public Sub OnExportAgain(control As IRibbonControl)
    Dim exportId As String
    exportId = Trim$(InputBox("Id of the export to write again (see the Export log sheet):", _
                              "Export again"))
    If exportId = "" Then Exit Sub
    RunToolkit "export_again", PyString(exportId), True
End Sub

Public Sub OnOpenExportFolder(control As IRibbonControl)
    RunToolkit "open_export_folder", "", False
End Sub

Public Sub OnHelp(control As IRibbonControl)
    ' Pure VBA: instant, and it works before Python is set up.
    ThisWorkbook.Worksheets("Start").Activate
    ThisWorkbook.Worksheets("Start").Range("A1").Select
End Sub

' Runs toolkit.excel.<func>(<args>[, copy='<path of a fresh copy of this workbook>']).
Private Sub RunToolkit(ByVal func As String, ByVal args As String, ByVal withCopy As Boolean)
    Dim copyPath As String
    On Error GoTo Failed
    If withCopy Then
        copyPath = TempCopyPath()
        ThisWorkbook.SaveCopyAs copyPath
        If args <> "" Then args = args & ", "
        args = args & "copy=" & PyString(copyPath)
    End If
    RunPython PY_CALL & func & "(" & args & ")"
Done:
    On Error Resume Next
    If copyPath <> "" Then Kill copyPath
    Exit Sub
Failed:
    MsgBox "Ledger export could not start '" & func & "': " & Err.Description, _
           vbExclamation, "Ledger export"
    Resume Done
End Sub

' A unique path in the temp folder with this workbook's extension.
Private Function TempCopyPath() As String
    Dim folder As String
    folder = Environ$("TEMP")
    If folder = "" Then folder = Environ$("TMPDIR")
    If folder = "" Then folder = ThisWorkbook.Path
    If Right$(folder, 1) <> Application.PathSeparator Then folder = folder & Application.PathSeparator
    Randomize
    TempCopyPath = folder & "LedgerExport-" & Format$(Now, "yyyymmdd-hhnnss") & "-" & _
                   CStr(Int(Rnd * 1000000)) & Mid$(ThisWorkbook.Name, InStrRev(ThisWorkbook.Name, "."))
End Function

' A Python string literal for text. The command runs inside cmd.exe double quotes, so double
' quotes and percent signs are written as escapes rather than as themselves.
Private Function PyString(ByVal text As String) As String
    text = Replace(text, "\", "\\")
    text = Replace(text, "'", "\'")
    text = Replace(text, """", "\x22")
    text = Replace(text, "%", "\x25")
    PyString = "'" & text & "'"
End Function
