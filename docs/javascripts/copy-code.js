/* The copy button of a doctest block copies the code only: the ">>> " and "... " prompts are
   removed and the expected output lines are left out, so the copied text pastes into Python as is.
   The theme copies the `data-copy` attribute of a code block when it has one; this sets it.
   No network, no dependency. */
(function () {
  "use strict";

  /** The Python code of a doctest block's text; null when the text is not a doctest. */
  function stripPrompts(text) {
    var lines = text.replace(/\r\n?/g, "\n").split("\n");
    var code = [];
    var inExample = false; // the previous line was a prompt or a continuation of one
    var found = false;
    for (var i = 0; i < lines.length; i++) {
      var line = lines[i];
      if (line === ">>>" || line.slice(0, 4) === ">>> ") {
        code.push(line.slice(4));
        inExample = true;
        found = true;
      } else if (inExample && (line === "..." || line.slice(0, 4) === "... ")) {
        code.push(line.slice(4));
      } else {
        inExample = false; // expected output, or a blank line ending the example
      }
    }
    return found ? code.join("\n") : null;
  }

  function markDoctests(root) {
    var blocks = root.querySelectorAll("pre > code");
    for (var i = 0; i < blocks.length; i++) {
      var code = stripPrompts(blocks[i].textContent || "");
      if (code !== null) blocks[i].setAttribute("data-copy", code);
    }
  }

  if (typeof module !== "undefined" && module.exports) {
    module.exports = { stripPrompts: stripPrompts }; // for the tests, under Node
  } else if (typeof document$ !== "undefined") {
    document$.subscribe(function () { markDoctests(document); }); // each page, instant loading too
  } else {
    document.addEventListener("DOMContentLoaded", function () { markDoctests(document); });
  }
})();
