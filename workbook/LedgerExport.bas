Attribute VB_Name = "LedgerExport"
' Ledger Export Toolkit: the callbacks of the "Ledger export" ribbon tab (customUI14.xml).
' Each button runs a function of the Python module toolkit.excel through xlwings RunPython.
' Every button that runs Python first saves a copy of the workbook (unsaved edits included) and
' passes its path as copy='...': Python reads the book as the user sees it now, from a file at once
' (not cell by cell), and every button reads the same (Open export folder the Output folder just typed).
' This file is the source: the workbook's module is built from it (ledger-export workbook new).
Option Explicit

Private Const PY_CALL As String = "import toolkit.excel; toolkit.excel."
Private Const TITLE As String = "Ledger export"
Private Const CONF_SHEET As String = "xlwings.conf"
Private Const START_SHEET As String = "Start"
' The README's "In Excel" > Troubleshooting says the same.
Private Const FIX_PYTHON As String = "Rebuild the workbook with the Python where the toolkit is installed " & _
    "(C:\ledger-export\Scripts\ledger-export workbook upgrade <this workbook>), or correct the cell " & _
    "INTERPRETER_WIN on the xlwings.conf sheet: the README's 'In Excel' section (Troubleshooting) shows how to " & _
    "make that hidden sheet visible."

' The Python found ready in this Excel session (checked once per path: starting Python costs a second).
Private checkedPython As String

Public Sub OnValidate(control As IRibbonControl)
    RunToolkit "validate", ""
End Sub

Public Sub OnSuggestAccounts(control As IRibbonControl)
    RunToolkit "suggest_accounts", ""
End Sub

Public Sub OnAssignCustomerNumbers(control As IRibbonControl)
    RunToolkit "assign_customer_numbers", ""
End Sub

Public Sub OnMatchCustomers(control As IRibbonControl)
    RunToolkit "match_customers", ""
End Sub

Public Sub OnApplyCustomers(control As IRibbonControl)
    RunToolkit "apply_customer_matches", ""
End Sub

Public Sub OnGenerateExport(control As IRibbonControl)
    RunToolkit "generate_export", ""
End Sub

Public Sub OnGenerateEinvoices(control As IRibbonControl)
    RunToolkit "generate_einvoices", ""
End Sub

Public Sub OnExportAgain(control As IRibbonControl)
    Dim exportId As String
    On Error GoTo Failed
    exportId = Trim$(InputBox("Id of the export to write again (see the Export log sheet):", _
                              "Export again"))
    If exportId = "" Then Exit Sub
    RunToolkit "export_again", PyString(exportId)
    Exit Sub
Failed:
    MsgBox "Export again could not start: " & Err.Description, vbExclamation, TITLE
End Sub

Public Sub OnOpenExportFolder(control As IRibbonControl)
    RunToolkit "open_export_folder", ""
End Sub

Public Sub OnHelp(control As IRibbonControl)
    ' Pure VBA: instant, and it works before Python is set up.
    Dim sheet As Object
    On Error GoTo Failed
    Set sheet = ThisWorkbook.Worksheets(START_SHEET)
    If sheet.Visible <> -1 Then sheet.Visible = -1  ' xlSheetVisible: a hidden Start sheet is shown
    sheet.Activate
    sheet.Range("A1").Select
    Exit Sub
Failed:
    MsgBox "The " & START_SHEET & " sheet, which explains the buttons, cannot be shown (renamed, deleted, or the " & _
           "workbook's structure protected?). Rename it back to '" & START_SHEET & "', or see the README's " & _
           "'In Excel' section.", vbInformation, TITLE
End Sub

' Runs toolkit.excel.<func>(<args>, copy='<path of a fresh copy of this workbook>').
Private Sub RunToolkit(ByVal func As String, ByVal args As String)
    Dim copyPath As String
    On Error GoTo Failed
    If Not PythonReady() Then Exit Sub
    copyPath = TempCopyPath()
    SaveCopy copyPath
    If args <> "" Then args = args & ", "
    args = args & "copy=" & PyString(copyPath)
    RunPython PY_CALL & func & "(" & args & ")"
Done:
    If copyPath <> "" Then DeleteCopy copyPath
    Exit Sub
Failed:
    MsgBox "Ledger export could not start '" & func & "': " & Err.Description, _
           vbExclamation, TITLE
    Resume Done
End Sub

' Before RunPython: the Python of the xlwings.conf sheet exists and imports the toolkit. Otherwise
' a message says what to install or correct, and where (xlwings' own messages are technical).
Private Function PythonReady() As Boolean
    Dim key As String, python As String, problem As String
    #If Mac Then
        key = "INTERPRETER_MAC"
    #Else
        key = "INTERPRETER_WIN"
    #End If
    python = ConfValue(key)
    If python = "" Then
        problem = "No Python is set for this workbook: the cell " & key & " on the " & CONF_SHEET & _
                  " sheet is empty."
    ElseIf python = checkedPython Then
        PythonReady = True
        Exit Function
    ElseIf (InStr(python, "\") > 0 Or InStr(python, "/") > 0) And Not FileExists(python) Then
        problem = "Could not find Python at " & python & " (the cell " & key & " on the " & CONF_SHEET & _
                  " sheet). Python was moved or uninstalled, or the workbook was built on another computer."
    ElseIf Not ToolkitImports(python) Then
        problem = "The Python at " & python & " does not have the toolkit installed. In a command prompt " & _
                  "in the toolkit's folder run: """ & python & """ -m pip install ."
    End If
    If problem = "" Then
        checkedPython = python
        PythonReady = True
    Else
        MsgBox problem & vbLf & vbLf & FIX_PYTHON, vbExclamation, TITLE
    End If
End Function

' A value of the xlwings.conf sheet (keys in column A from A1, values in column B); "" if none.
Private Function ConfValue(ByVal key As String) As String
    Dim sheet As Object, row As Long
    On Error GoTo Missing
    Set sheet = ThisWorkbook.Worksheets(CONF_SHEET)
    row = 1
    Do While Trim$(CStr(sheet.Cells(row, 1).Value)) <> ""
        If UCase$(Trim$(CStr(sheet.Cells(row, 1).Value))) = key Then
            ConfValue = Trim$(CStr(sheet.Cells(row, 2).Value))
            Exit Function
        End If
        row = row + 1
    Loop
Missing:
End Function

Private Function FileExists(ByVal path As String) As Boolean
    On Error Resume Next
    FileExists = Len(Dir$(path)) > 0
End Function

' Runs `python -c "import toolkit.excel"` hidden and waits: exit code 0 = the toolkit imports.
Private Function ToolkitImports(ByVal python As String) As Boolean
    On Error GoTo Unknown
    #If Mac Then
        ToolkitImports = True  ' no hidden shell on the Mac: xlwings reports a failed import there
    #Else
        ToolkitImports = CreateObject("WScript.Shell").Run("""" & python & """ -c ""import toolkit.excel""", 0, True) = 0
    #End If
    Exit Function
Unknown:
    ToolkitImports = True  ' could not ask (policy blocks WScript): let RunPython try and report
End Function

' The workbook as it is now, unsaved edits included, saved to `path`; the open workbook stays as it is.
Private Sub SaveCopy(ByVal path As String)
    ThisWorkbook.SaveCopyAs path
End Sub

Private Sub DeleteCopy(ByVal path As String)
    On Error Resume Next  ' a copy left in the temp folder harms nobody
    Kill path
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
