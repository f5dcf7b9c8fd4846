// The debugger runs `hindsight dap` (package.json's `program` and `args`);
// this only lets the setting `hindsight.path` name another executable.
const vscode = require('vscode');

function activate(context) {
  context.subscriptions.push(
    vscode.debug.registerDebugAdapterDescriptorFactory('hindsight', {
      createDebugAdapterDescriptor() {
        const path = vscode.workspace.getConfiguration('hindsight').get('path') || 'hindsight';
        return new vscode.DebugAdapterExecutable(path, ['dap']);
      },
    })
  );
}

function deactivate() {}

module.exports = { activate, deactivate };
